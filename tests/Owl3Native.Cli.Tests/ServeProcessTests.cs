using System.Diagnostics;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Cli.Tests;

/// <summary>`owl3 serve` as a real process: the signals service managers send.</summary>
public sealed class ServeProcessTests
{
    [Fact]
    public void The_owl3_process_compacts_its_large_object_heap()
    {
        // bench/results/2026-11-26-dev-2core-memory.md: without it one image request peaks at 3× its working set.
        string config = Path.ChangeExtension(typeof(Program).Assembly.Location, ".runtimeconfig.json");
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(config));
        Assert.Equal(7, doc.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").GetProperty("System.GC.ConserveMemory").GetInt32());
    }

    [Fact]
    public async Task Sigterm_stops_the_server_cleanly()
    {
        if (!OperatingSystem.IsLinux()) return;
        string owl3 = typeof(Program).Assembly.Location; // owl3.dll beside the tests
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { owl3, "serve", "--model", SharedData.Golden("tiny-a"), "--port", "0", "--threads", "1" }) psi.ArgumentList.Add(a);
        using var server = Process.Start(psi)!;
        var started = new TaskCompletionSource();
        server.ErrorDataReceived += (_, e) => { if (e.Data?.Contains("owl3 serve:") == true) started.TrySetResult(); };
        server.BeginErrorReadLine();
        server.BeginOutputReadLine();
        try
        {
            Assert.Same(started.Task, await Task.WhenAny(started.Task, Task.Delay(TimeSpan.FromSeconds(60))));
            using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString()])) await kill.WaitForExitAsync();
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await server.WaitForExitAsync(exited.Token); // before the fix the process ignored SIGTERM and this timed out
            Assert.Equal(0, server.ExitCode);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
        }
    }
}
