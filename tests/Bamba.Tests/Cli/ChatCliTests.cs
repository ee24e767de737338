using Bamba.Cli;
using Bamba.Cli.Chat;
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
    public void SaveWritesTheConversationAndLoadContinuesIt()
    {
        string file = Path.Combine(_dir, "conversation.json");
        string first = Expected("<s><system>be brief\n<user>hello\n<assistant>");
        string second = Expected($"<s><system>be brief\n<user>hello\n<assistant>{first}\n<user>more\n<assistant>");

        var output = Chat($"hello\n/save {file}\n/reset\n/system other\n/load {file}\nmore\n", "--system", "be brief");

        Assert.Equal($"{first}\n(saved 3 messages to {file})\n(loaded 3 messages from {file})\n{second}\n", output);
        using var saved = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        Assert.Equal([("system", "be brief"), ("user", "hello"), ("assistant", first)],
            saved.RootElement.GetProperty("messages").EnumerateArray().Select(m => (m.GetProperty("role").GetString(), m.GetProperty("content").GetString())));
    }

    [Fact]
    public void LoadingABadFileIsOneLineAndTheChatGoesOn()
    {
        string file = Path.Combine(_dir, "bad.json");
        File.WriteAllText(file, "{\"turns\": []}");
        string reply = Expected("<s><user>hi\n<assistant>");

        var output = Chat($"/load {file}\nhi\n").Split('\n');

        Assert.StartsWith($"cannot load {file}: ", output[0]);
        Assert.Equal(reply, output[1]);
    }

    [Fact]
    public void SystemSetsAndRemovesTheSystemMessage()
    {
        string with = Expected("<s><system>be brief\n<user>hi\n<assistant>");
        string without = Expected("<s><user>hi\n<assistant>");

        Assert.Equal($"{with}\n{without}\n", Chat("/system be brief\nhi\n/reset\n/system\nhi\n"));
    }

    [Fact]
    public void HelpListsTheCommandsAndIsNotSentToTheModel()
    {
        string reply = Expected("<s><user>hi\n<assistant>");
        Assert.Equal($"{ChatSession.Help}\n{reply}\n", Chat("/help\nhi\n"));
        Assert.Equal($"unknown command /halp (/help lists them)\n{reply}\n", Chat("/halp\nhi\n"));
    }

    [Fact]
    public void ALineEndingInABackslashContinuesTheMessage() =>
        Assert.Equal($"{Expected("<s><user>two\nlines\n<assistant>")}\n", Chat("two\\\nlines\n"));

    [Fact]
    public void ChatTemplateFileReplacesTheTokenizersTemplate()
    {
        string template = Path.Combine(_dir, "template.jinja");
        File.WriteAllText(template, "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] ");
        Assert.Equal($"{Expected("<s>[user] hello\n[assistant] ")}\n", Chat("hello\n", "--chat-template", template));
        CliRunner.AssertUserError(CliRunner.Run("chat", "--model", _dir, "--chat-template", Path.Combine(_dir, "none.jinja")), "none.jinja: file not found");
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
