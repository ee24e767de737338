using System.Diagnostics;
using System.Text.Json;
using Bamba.Generation;
using Bamba.Serving;

namespace Bamba.Cli.Chat;

/// <summary>
/// A conversation in the terminal: reads user messages (a line ending in <c>\</c> continues on the next), runs the
/// slash commands, and streams each reply, rendered with the model's chat template from the whole conversation.
/// On a terminal (<paramref name="interactive"/>) it shows prompts and tokens/s, and Ctrl-C stops a reply.
/// </summary>
internal sealed class ChatSession(Generator generator, ITextCodec codec, GenerationOptions options, string? system, TextWriter output, bool interactive)
{
    public const string Help = """
        /help          this list
        /reset         forget the conversation (the system message stays)
        /system TEXT   set the system message (/system alone removes it)
        /save FILE     write the conversation as JSON ({"messages": [{"role", "content"}, ...]})
        /load FILE     read a conversation written by /save
        /exit          quit (also Ctrl-D, or the end of piped input)
        A line ending in \ continues on the next line. Ctrl-C stops a reply, or discards the line being typed.
        """;

    private readonly List<ChatTurn> _turns = [];
    private string? _system = system;
    /// <summary>What Ctrl-C stops while a reply streams; null between replies.</summary>
    private CancellationTokenSource? _reply;

    public void Run(Func<string, string?> readLine)
    {
        // One handler for the whole chat, not one per reply: a Ctrl-C that comes just after a reply has ended, before
        // the line editor reads Ctrl-C as a key, must not end the program and lose the conversation. Piped input has
        // no line editor, so there a Ctrl-C between replies ends the program as usual.
        ConsoleCancelEventHandler onCtrlC = (_, e) => e.Cancel = StopReply() || interactive;
        Console.CancelKeyPress += onCtrlC;
        try
        {
            Reset();
            while (ReadMessage(readLine) is { } message)
            {
                string text = message.Trim();
                if (text.Length == 0) continue;
                if (text.StartsWith('/'))
                {
                    if (!RunCommand(text)) return;
                    continue;
                }
                _turns.Add(new ChatTurn("user", message));
                _turns.Add(new ChatTurn("assistant", Reply()));
            }
        }
        finally { Console.CancelKeyPress -= onCtrlC; }
    }

    /// <summary>Stops the streaming reply, if one is; whether one was.</summary>
    private bool StopReply()
    {
        try
        {
            if (Volatile.Read(ref _reply) is not { } reply) return false;
            reply.Cancel();
            return true;
        }
        catch (ObjectDisposedException) { return false; } // the reply ended as the key came
    }

    private string? ReadMessage(Func<string, string?> readLine)
    {
        string? line = readLine(interactive ? "you> " : "");
        if (line is null) return null;
        var message = new System.Text.StringBuilder();
        while (line is not null && line.EndsWith('\\'))
        {
            message.Append(line.AsSpan(0, line.Length - 1)).Append('\n');
            line = readLine(interactive ? "...> " : "");
        }
        return message.Append(line).ToString();
    }

    /// <summary>Runs one slash command; false means quit.</summary>
    private bool RunCommand(string text)
    {
        var parts = text.Split(' ', 2, StringSplitOptions.TrimEntries);
        string argument = parts.Length > 1 ? parts[1] : "";
        switch (parts[0])
        {
            case "/exit" or "/quit": return false;
            case "/help": output.WriteLine(Help); break;
            case "/reset":
                Reset();
                if (interactive) output.WriteLine("(conversation cleared)");
                break;
            case "/system":
                _system = argument.Length > 0 ? argument : null;
                _turns.RemoveAll(t => t.Role == "system");
                if (_system is not null) _turns.Insert(0, new ChatTurn("system", _system));
                if (interactive) output.WriteLine(_system is null ? "(no system message)" : "(system message set)");
                break;
            case "/save" when argument.Length > 0: Save(argument); break;
            case "/load" when argument.Length > 0: Load(argument); break;
            default: output.WriteLine($"unknown command {text} (/help lists them)"); break;
        }
        output.Flush();
        return true;
    }

    private void Reset()
    {
        _turns.Clear();
        if (_system is not null) _turns.Add(new ChatTurn("system", _system));
    }

    private static readonly System.Text.Json.Serialization.Metadata.JsonTypeInfo<SavedChat> SavedChatJson =
        (System.Text.Json.Serialization.Metadata.JsonTypeInfo<SavedChat>)new JsonSerializerOptions { WriteIndented = true, TypeInfoResolver = CliJson.Default }
            .GetTypeInfo(typeof(SavedChat));

    private void Save(string path)
    {
        var chat = new SavedChat([.. _turns.Select(t => new SavedMessage(t.Role, t.Content))]);
        try
        {
            File.WriteAllText(path, JsonSerializer.Serialize(chat, SavedChatJson) + "\n");
            output.WriteLine($"(saved {_turns.Count} messages to {path})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { output.WriteLine($"cannot write {path}: {e.Message}"); }
    }

    private void Load(string path)
    {
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(path));
            var turns = json.RootElement.GetProperty("messages").EnumerateArray()
                .Select(m => new ChatTurn(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();
            _turns.Clear();
            _turns.AddRange(turns);
            _system = turns.FirstOrDefault(t => t.Role == "system")?.Content;
            output.WriteLine($"(loaded {turns.Count} messages from {path})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            output.WriteLine($"cannot load {path}: {e.Message} (expected {{\"messages\": [{{\"role\": ..., \"content\": ...}}]}})");
        }
    }

    /// <summary>Streams the reply and returns its text (what was shown, if Ctrl-C stopped it).</summary>
    private string Reply()
    {
        if (interactive) output.Write("bamba> ");
        var prompt = codec.Encode(codec.RenderChat(_turns, addGenerationPrompt: true), addSpecialTokens: !codec.ChatIncludesSpecialTokens);
        var decoder = codec.CreateDecoder();
        var ids = new List<int>();
        using var stop = new CancellationTokenSource();
        Volatile.Write(ref _reply, stop);
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (int id in generator.StreamAsync(prompt, options, stop.Token).ToBlockingEnumerable())
            {
                ids.Add(id);
                output.Write(decoder.Add(id));
                output.Flush();
            }
        }
        catch (OperationCanceledException) { }
        finally { Volatile.Write(ref _reply, null); }
        output.WriteLine(decoder.Flush());
        if (interactive)
            output.WriteLine($"[{(stop.IsCancellationRequested ? "stopped, " : "")}{ids.Count} tokens in {clock.Elapsed.TotalSeconds:F1} s, " +
                             $"{ids.Count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):F1} tokens/s]");
        output.Flush();
        return codec.Decode(ids);
    }
}
