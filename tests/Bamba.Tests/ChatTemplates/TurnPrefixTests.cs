using Bamba.Tokenization;
using Bamba.Tokenization.ChatTemplates;

namespace Bamba.Tests.ChatTemplates;

/// <summary>
/// The prefix cache resumes a chat's next turn where the previous turn's prompt and reply ended. That only hits if the
/// template renders the earlier turns of the longer history to the same text (and tokens) the previous request sent
/// plus the reply. Checked with the real templates.
/// </summary>
public class TurnPrefixTests
{
    private static readonly Dictionary<string, object?> Variables = new() { ["bos_token"] = "<s>", ["eos_token"] = "</s>" };
    private const string Reply = "Paris is the capital of France.";

    public static TheoryData<string> Templates() => new(System.IO.Directory.GetFiles(TemplateData.Directory, "*.jinja")
        .Select(f => Path.GetFileNameWithoutExtension(f)).Order());

    private static (string First, string Second) Turns(ChatTemplate template, bool system)
    {
        var first = new List<ChatMessage>();
        if (system) first.Add(new ChatMessage("system", "You are terse."));
        first.Add(new ChatMessage("user", "What is the capital of France?"));
        var second = new List<ChatMessage>(first) { new("assistant", Reply), new("user", "And of Italy?") };
        return (template.Render(first, true, Variables), template.Render(second, true, Variables));
    }

    [Theory]
    [MemberData(nameof(Templates))]
    public void TheNextTurnStartsWithThePreviousPromptAndItsReply(string name)
    {
        var template = TemplateData.Load(name);
        bool system = !name.StartsWith("mistral-7b", StringComparison.Ordinal); // it refuses system messages
        var (first, second) = Turns(template, system);

        Assert.StartsWith(first + Reply, second);
    }

    [Fact]
    public void TheLlama3TokenizerEncodesTheNextTurnAsThePreviousTokensAndTheReply()
    {
        var tokenizer = HfTokenizer.Load(Path.Combine(Fixtures.Root, "tokenizers", "llama3"));
        var (first, second) = Turns(TemplateData.Load("llama-3-8b-instruct"), system: true);
        // What the model would have generated: the reply's tokens and the end-of-turn token.
        int[] previous = [.. tokenizer.Encode(first), .. tokenizer.Encode(Reply), .. tokenizer.Encode("<|eot_id|>")];

        var next = tokenizer.Encode(second);

        Assert.Equal(previous, next[..previous.Length]);
    }
}
