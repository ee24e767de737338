using Bamba.Configuration;
using Bamba.Generation;
using Bamba.Serving;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba chat --model DIR [--system TEXT] [--max-new-tokens N] [sampling flags] [--device ...]</c>: an
/// interactive chat in the terminal. Each line read is a user turn; the conversation is rendered with the model's
/// chat template and the reply streams as it is generated. <c>/reset</c> starts over, <c>/exit</c> (or end of
/// input) quits.
/// </summary>
internal sealed class ChatCommand : ICommand
{
    private readonly TextReader _stdin;

    public ChatCommand() : this(Console.In) { }

    internal ChatCommand(TextReader stdin) => _stdin = stdin;

    public string Name => "chat";
    public string Summary => "chat with a model in the terminal, using its chat template";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        ModelOptions.Model,
        ModelOptions.Lora,
        new("system", "a system message, the first turn of the conversation", "TEXT"),
        .. GenerateCommand.SamplingFlags(maxNewTokensFallback: 256),
        .. ModelOptions.Device,
    ];
    public IReadOnlyList<string> Examples { get; } =
    [
        "bamba chat --model models/default",
        "bamba chat --model DIR --system \"Be brief.\" --temperature 0.7 --device cuda",
    ];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string dir = args.Required("model");
        var defaults = GenerationConfig.Load(dir);
        var options = GenerateCommand.Options(args, defaults with { MaxNewTokens = defaults.MaxNewTokens ?? 256 });
        string? system = args.String("system");
        var codec = TextCodecs.Load(dir) ?? throw new BambaException($"{dir} has no tokenizer.json: chat needs a tokenizer and a chat template");
        if (!codec.HasChatTemplate) throw new BambaException($"{dir}: the tokenizer has no chat_template (tokenizer_config.json)");
        using var model = ModelOptions.LoadForGeneration(args);
        args.EnsureAllUsed();
        var stops = options with { EosTokenIds = [.. options.EosTokenIds ?? model.Config.EosTokenIds, .. ((HfTextCodec)codec).Tokenizer.EosIds] };
        new Conversation(new Generator(model), codec, stops, system).Run(_stdin, stdout, interactive: !Console.IsInputRedirected);
        return 0;
    }

    /// <summary>The turns so far and the loop that reads user lines and streams replies.</summary>
    private sealed class Conversation(Generator generator, ITextCodec codec, GenerationOptions options, string? system)
    {
        private readonly List<ChatTurn> _turns = [];

        public void Run(TextReader input, TextWriter output, bool interactive)
        {
            Reset();
            while (true)
            {
                if (interactive) output.Write("you> ");
                output.Flush();
                string? line = input.ReadLine();
                if (line is null || line.Trim() == "/exit") return;
                if (line.Trim() == "/reset") { Reset(); continue; }
                if (line.Trim().Length == 0) continue;
                _turns.Add(new ChatTurn("user", line));
                if (interactive) output.Write("bamba> ");
                _turns.Add(new ChatTurn("assistant", Reply(output)));
            }
        }

        private void Reset()
        {
            _turns.Clear();
            if (system is not null) _turns.Add(new ChatTurn("system", system));
        }

        private string Reply(TextWriter output)
        {
            var prompt = codec.Encode(codec.RenderChat(_turns, addGenerationPrompt: true), addSpecialTokens: !codec.ChatIncludesSpecialTokens);
            var decoder = codec.CreateDecoder();
            var ids = new List<int>();
            foreach (int id in generator.StreamAsync(prompt, options).ToBlockingEnumerable())
            {
                ids.Add(id);
                output.Write(decoder.Add(id));
                output.Flush();
            }
            output.WriteLine(decoder.Flush());
            return codec.Decode(ids);
        }
    }
}
