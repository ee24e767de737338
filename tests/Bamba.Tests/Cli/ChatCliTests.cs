using Bamba.Cli;
using Bamba.Cli.Commands;
using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Tokenization;

namespace Bamba.Tests.Cli;

public sealed class ChatCliTests : IDisposable
{
    private readonly string _dir = TextModel.Create(Directory.CreateTempSubdirectory("bamba-chat-").FullName);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Chat(string input, params string[] flags)
    {
        var stdout = new StringWriter();
        var command = new ChatCommand(new StringReader(input));
        var args = CliHost.Parse(command, ["--model", _dir, "--max-new-tokens", "5", .. flags]);
        Assert.Equal(0, command.Run(args, stdout));
        return stdout.ToString();
    }

    /// <summary>What the model says to the rendered conversation, generated directly.</summary>
    private string Expected(string rendered)
    {
        var tokenizer = HfTokenizer.Load(_dir);
        using var model = BambaModel.Load(_dir);
        var ids = new Generator(model).Generate([tokenizer.Encode(rendered)],
            new GenerationOptions { MaxNewTokens = 5, EosTokenIds = [TextModel.Eos] })[0].TokenIds;
        return tokenizer.Decode(ids, skipSpecialTokens: true);
    }

    [Fact]
    public void EachTurnRendersTheWholeConversation()
    {
        string first = Expected("<s><user>hello\n<assistant>");
        string second = Expected($"<s><user>hello\n<assistant>{first}\n<user>more\n<assistant>");

        var output = Chat("hello\nmore\n");

        Assert.Equal($"{first}\n{second}\n", output);
    }

    [Fact]
    public void ResetForgetsTheConversationAndSystemPromptLeads()
    {
        string first = Expected("<s><system>be brief\n<user>hello\n<assistant>");
        string second = Expected("<s><system>be brief\n<user>hi\n<assistant>");

        var output = Chat("hello\n/reset\nhi\n/exit\nignored\n", "--system", "be brief");

        Assert.Equal($"{first}\n{second}\n", output);
    }

    [Fact]
    public void ModelWithoutTokenizerIsAUserError() =>
        CliRunner.AssertUserError(CliRunner.Run("chat", "--model", Fixtures.Model("tiny-bamba")), "has no tokenizer.json");
}

public sealed class ChatTemplateFileTests : IDisposable
{
    private readonly string _dir = TextModel.Create(Directory.CreateTempSubdirectory("bamba-jinja-").FullName);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ChatTemplateJinjaFileWinsOverTheConfigField()
    {
        File.WriteAllText(Path.Combine(_dir, "chat_template.jinja"), "{% for m in messages %}[{{ m['content'] }}]{% endfor %}");
        Assert.Equal("{% for m in messages %}[{{ m['content'] }}]{% endfor %}", Bamba.Tokenization.HfTokenizer.Load(_dir).ChatTemplate);
    }
}
