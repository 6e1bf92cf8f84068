using Owl3Native.Eval.Plans;
using Owl3Native.Eval.Prompts;
using Owl3Native.Eval.Tests.Data;
using Owl3Native.Models.Checkpoints;
using Owl3Native.Processing.Text;
using Owl3Native.TestKit;
using Xunit;

namespace Owl3Native.Eval.Tests.Prompts;

/// <summary>The prompt text meets the real Qwen2 tokenizer (spec/PROCESSOR.md §6 ids; spec/EVAL.md §7.7 last bullet).</summary>
public sealed class PromptTokenTests
{
    private static readonly Lazy<Qwen2Tokenizer> s_tokenizer = new(() => Qwen2Tokenizer.Load(Path.Combine(SharedData.Root, "tokenizer", "qwen2")));

    [Fact]
    public void Nlvr2_prompt_tokenises_to_the_processor_spec_ids()
    {
        var entry = PlanEntry.ForDataset("nlvr2");
        var prompt = EvalPrompts.Build(entry, DataFixtures.Load(entry).Records[0]);

        var encoded = new PromptBuilder(s_tokenizer.Value, Owl3Variant.V240728).Build(prompt.Messages(), [ImageItem.Uncut, ImageItem.Uncut]);

        int[] ids = encoded.InputIds;
        Assert.Equal([151644, 8948, 198, 151645, 198, 151644, 872, 198], ids[..8]); // <|im_start|>system\n<|im_end|> \n<|im_start|>user\n
        Assert.Equal([198, 151644, 77091, 198], ids[^4..]);                        // \n<|im_start|>assistant\n
        Assert.Equal(2, encoded.MarkerStarts.Length);
        foreach (int s in encoded.MarkerStarts) Assert.Equal([27, 91, 1805, 91, 29], ids[s..(s + 5)]);
        Assert.Equal(ChatTemplate.Render(prompt.Messages()), encoded.Text);
    }

    [Fact]
    public void The_u2019_apostrophe_changes_the_tokens()
    {
        var tokenizer = s_tokenizer.Value;
        int[] curly = tokenizer.Encode(PromptTemplates.LetterInstruction);
        int[] ascii = tokenizer.Encode(PromptTemplates.LetterInstruction.Replace('\u2019', '\''));

        Assert.Equal('\u2019', PromptTemplates.LetterInstruction["Answer with the option".Length]);
        Assert.NotEqual(ascii, curly);
        Assert.Equal(PromptTemplates.LetterInstruction, tokenizer.Decode(curly));
        Assert.Contains(tokenizer.Encode("'s").Single(), ascii); // ASCII `'s` is one contraction token; `’s` is not
        Assert.DoesNotContain(tokenizer.Encode("'s").Single(), curly);
    }
}
