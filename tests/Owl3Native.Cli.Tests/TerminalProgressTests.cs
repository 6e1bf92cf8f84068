using Xunit;

namespace Owl3Native.Cli.Tests;

public sealed class TerminalProgressTests
{
    [Fact]
    public void Lines_show_stage_bar_count_and_item_and_a_finished_stage_ends_the_line()
    {
        Assert.Equal("image crops  ▕█████░░░░░▏ 1/2", TerminalProgress.Line(new EngineProgress(EngineStage.EncodingImages, 1, 2), 10));
        Assert.Equal("loading      ▕░░░░▏ 0/3 tiny-a", TerminalProgress.Line(new EngineProgress(EngineStage.Loading, 0, 3, "tiny-a"), 4));
        var w = new StringWriter();
        var p = new TerminalProgress(w, 4);
        p.Report(new EngineProgress(EngineStage.DecodingVideo, 1, 2));
        p.Report(new EngineProgress(EngineStage.DecodingVideo, 2, 2));
        Assert.Equal("\rvideo frames ▕██░░▏ 1/2\rvideo frames ▕████▏ 2/2\n", w.ToString());
    }

    [Fact]
    public void Redirected_or_json_output_gets_no_progress()
    {
        var console = new Console(new StringWriter(), new StringWriter());
        Assert.Null(TerminalProgress.For(console, json: false)); // a test's writers are not the terminal
        Assert.Null(TerminalProgress.For(console, json: true));
    }
}
