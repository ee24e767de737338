using System.Text;

namespace Bamba.Tests.Cli;

/// <summary>
/// <c>bamba chat</c> typed into a pseudo-terminal: Ctrl-C during a reply stops the reply, not the chat (the ^C reaches
/// the program as SIGINT, the reply ends "[stopped, ...]", and the next turn runs); the line editor's cursor keys and
/// history change what is sent.
/// </summary>
public sealed class ChatTerminalTests : IDisposable
{
    private readonly string _dir = TextModel.Create(Directory.CreateTempSubdirectory("bamba-chat-terminal-").FullName);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The greedy reply to the rendered conversation, generated directly.</summary>
    private string Expected(string rendered, int maxNewTokens)
    {
        var tokenizer = Bamba.Tokenization.HfTokenizer.Load(_dir);
        using var model = Bamba.Modeling.BambaModel.Load(_dir);
        var ids = new Bamba.Generation.Generator(model).Generate([tokenizer.Encode(rendered)],
            new Bamba.Generation.GenerationOptions { MaxNewTokens = maxNewTokens, EosTokenIds = [TextModel.Eos] })[0].TokenIds;
        return tokenizer.Decode(ids, skipSpecialTokens: true);
    }

    [Fact]
    public async Task CursorKeysEditTheLineAndUpRecallsTheLastOne()
    {
        string first = Expected("<s><user>hello\n<assistant>", 5);
        string second = Expected($"<s><user>hello\n<assistant>{first}\n<user>hello\n<assistant>", 5);
        using var process = CliProcess.Start(["chat", "--model", _dir, "--max-new-tokens", "5", "--temperature", "0"], terminal: true, keepStdinOpen: true);
        var screen = new Screen(process.StandardOutput);
        try
        {
            await screen.WaitFor("you> ", from: 0);
            // "helo", cursor left once, "l": "hello". Arrows as an xterm in application mode sends them (ESC O D).
            await Type(process, "helo\eODl\r");
            int reply = await screen.WaitFor("tokens/s]", from: 0);
            await Type(process, "\eOA\r");                                    // up: the last line again
            int again = await screen.WaitFor("tokens/s]", from: reply + 1);
            await Type(process, "/exit\r");
            await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token);
            string text = screen.Text.Replace("\r", "");
            Assert.Contains("bamba> " + first + "\n", text[..reply]);
            Assert.Contains("bamba> " + second + "\n", text[reply..again]);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    private static async Task Type(System.Diagnostics.Process process, string keys)
    {
        await process.StandardInput.WriteAsync(keys);
        await process.StandardInput.FlushAsync();
    }

    [Fact]
    public async Task CtrlCStopsTheReplyAndTheChatGoesOn()
    {
        // The tiny random model's greedy replies end at its EOS after a second or so (980 tokens for "hello"), so a
        // Ctrl-C can come after the reply has ended; then the message is sent again. Five tries: each one's Ctrl-C
        // goes out as soon as the reply has begun.
        using var process = CliProcess.Start(["chat", "--model", _dir, "--max-new-tokens", "1000000", "--temperature", "0"], terminal: true, keepStdinOpen: true);
        var screen = new Screen(process.StandardOutput);
        try
        {
            int at = await screen.WaitFor("you> ", from: 0), stopped = -1;
            for (int attempt = 0; attempt < 5 && stopped < 0; attempt++)
            {
                await Type(process, "hello\r");
                int reply = await screen.WaitFor("bamba> ", from: at);
                await screen.WaitForMore(reply + 20);                     // the reply is streaming
                await Type(process, "\x03");
                int end = await screen.WaitFor("tokens/s]", from: reply);
                if (screen.Text.IndexOf("[stopped, ", reply, StringComparison.Ordinal) is var s && s >= 0 && s < end) stopped = s;
                // Too late: the Ctrl-C met the prompt (the line is discarded) or the moment between (ignored); either
                // way the chat goes on, and the next "hello" reaches the line editor after the Ctrl-C.
                at = await screen.WaitFor("you> ", from: end);
            }
            Assert.True(stopped >= 0, "no Ctrl-C reached a reply in five tries: " + screen.Text);
            await Type(process, "/exit\r");
            await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token);
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {screen.Text[stopped..]}");
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task CtrlCAtThePromptDiscardsTheLineAndTheChatGoesOn()
    {
        string reply = Expected("<s><user>hello\n<assistant>", 5);
        using var process = CliProcess.Start(["chat", "--model", _dir, "--max-new-tokens", "5", "--temperature", "0"], terminal: true, keepStdinOpen: true);
        var screen = new Screen(process.StandardOutput);
        try
        {
            await screen.WaitFor("you> ", from: 0);
            await Type(process, "goodbye\x03");
            int discarded = await screen.WaitFor("line discarded", from: 0);
            await Type(process, "hello\r");
            int end = await screen.WaitFor("tokens/s]", from: discarded);
            await Type(process, "/exit\r");
            await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token);
            Assert.Contains("bamba> " + reply + "\n", screen.Text.Replace("\r", ""));
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {screen.Text[discarded..]}");
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>What the program has written so far, read as it comes (a prompt ends without a newline).</summary>
    private sealed class Screen
    {
        private readonly StringBuilder _text = new();
        private readonly Task _reader;

        public Screen(StreamReader output) => _reader = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = await output.ReadAsync(buffer)) > 0)
                lock (_text) _text.Append(buffer, 0, n);
        });

        public string Text { get { lock (_text) return _text.ToString(); } }

        /// <summary>The index of <paramref name="text"/> at or after <paramref name="from"/>, once it has appeared.</summary>
        public async Task<int> WaitFor(string text, int from)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (DateTime.UtcNow < deadline)
            {
                int at = Text.IndexOf(text, Math.Min(from, Text.Length), StringComparison.Ordinal);
                if (at >= 0) return at;
                if (_reader.IsCompleted) break;
                await Task.Delay(20);
            }
            Assert.Fail($"'{text}' did not appear: {Text}");
            return -1;
        }

        public async Task WaitForMore(int length)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (Text.Length < length && DateTime.UtcNow < deadline && !_reader.IsCompleted) await Task.Delay(20);
            Assert.True(Text.Length >= length, "the reply did not stream: " + Text);
        }
    }
}
