using Owl3Native.Processing.Text;

namespace Owl3Native.Cli.Commands;

/// <summary>`owl3 tokenize --model &lt;dir&gt; (--text S | --input strings.json) [--output out.json]`.</summary>
internal sealed class TokenizeCommand : Command
{
    public override string Name => "tokenize";
    public override string Usage => "tokenize --model <dir> (--text S | --input strings.json) [--output out.json]";
    public override string Summary => "Qwen2 tokenization with the folder's tokenizer files (the folder may hold only tokenizer files)";
    public override string? Details => "Output: a JSON array of {\"ids\": [...], \"decoded\": \"...\"}, one per input string, in order.";
    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("model", true, "folder with vocab.json + merges.txt (and tokenizer_config.json / tokenizer.json)", ValueName: "DIR"),
        new("text", true, "one string to tokenize", ValueName: "S"),
        new("input", true, "a JSON array of strings", ValueName: "FILE"),
        new("output", true, "write the JSON there instead of stdout", ValueName: "FILE"),
        new("json", false, "stdout is the JSON document (the default output already is)"),
    ];

    public override int Run(ParsedArgs args, Console console)
    {
        args.NoMorePositionals(0);
        string model = args.Value("model") ?? throw new UsageException("--model is required");
        if ((args.Value("text") is null) == (args.Value("input") is null)) throw new UsageException("give exactly one of --text and --input");
        Qwen2Tokenizer tokenizer;
        IReadOnlyList<string> texts;
        try
        {
            tokenizer = Qwen2Tokenizer.Load(model);
            texts = args.Value("text") is { } t ? [t] : TokenizeJob.ReadInput(args.Value("input")!);
        }
        catch (Exception e) when (e is TokenizerFileException or FormatException)
        {
            throw new UserErrorException(e.Message);
        }
        string json = TokenizeJob.ToJson(TokenizeJob.Run(tokenizer, texts), indented: true);
        if (args.Value("output") is { } output) File.WriteAllText(output, json);
        else console.Out.WriteLine(json);
        return 0;
    }
}
