using Microsoft.Playwright;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Server.Tests;

/// <summary>
/// The web chat page end to end in headless Chromium (Debian's /usr/bin/chromium, no browser download): attach an
/// image, ask, watch the streamed answer arrive, then a second turn. Skipped with the reason where chromium is absent.
/// </summary>
public sealed class BrowserTests
{
    [RequiresToolFact("chromium")]
    public async Task Image_chat_in_the_browser_streams_an_answer_over_two_turns()
    {
        using var engine = Owl3Engine.Load(SharedData.Golden("tiny-a"));
        await using var server = Owl3Server.Create(engine, new ServerOptions { Port = 0 });
        var address = await server.StartAsync();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(address.ToString());
        Assert.Equal("Owl3Native chat", await page.TitleAsync());

        await page.SetInputFilesAsync("#file", Path.Combine(SharedData.Root, "golden", "processor", "images", "grad_500x500.png"));
        await page.FillAsync("#prompt", "Describe this image.");
        await page.ClickAsync("#send");
        await page.WaitForFunctionAsync("() => document.getElementById('status').textContent.includes('new tokens')", null, new() { Timeout = 60000 });
        Assert.Equal(1, await page.Locator(".msg.user img").CountAsync());
        string answer = await page.Locator(".msg.assistant span").First.TextContentAsync() ?? "";
        Assert.NotEqual("", answer);
        Assert.DoesNotContain("Error", answer);
        Assert.Contains("39 prompt", await page.Locator("#status").TextContentAsync()); // 5 crops' markers in the prompt

        await page.FillAsync("#prompt", "And the colours?");
        await page.ClickAsync("#send");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('.msg.assistant').length === 2 && document.getElementById('status').textContent.includes('new tokens')", null, new() { Timeout = 60000 });
        Assert.Equal(0, engine.Runner.Allocator.UsedBlocks);
    }
}
