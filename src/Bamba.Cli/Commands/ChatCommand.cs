using Bamba.Cli.Chat;
using Bamba.Configuration;
using Bamba.Generation;
using Bamba.Serving;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba chat --model DIR [--system TEXT] [--chat-template FILE] [sampling flags] [--device ...]</c>: an
/// interactive chat in the terminal (<see cref="ChatSession"/>): a banner, line editing and history, slash commands,
/// streamed replies with tokens/s. Piped input works too, without prompts: each line is a user turn.
/// </summary>
internal sealed class ChatCommand : ICommand
{
    private readonly TextReader? _stdin;

    public ChatCommand() : this(null) { }

    /// <summary>Reads the user's lines from <paramref name="stdin"/> (tests), else from the console.</summary>
    internal ChatCommand(TextReader? stdin) => _stdin = stdin;

    public string Name => "chat";
    public string Summary => "chat with a model in the terminal, using its chat template";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        ModelOptions.Model,
        ModelOptions.Lora,
        Output.LiveOutput.NoProgress,
        new("system", "a system message, the first turn of the conversation", "TEXT"),
        ModelOptions.ChatTemplate,
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
        string dir = ModelOptions.Directory(args);
        var defaults = GenerationConfig.Load(dir);
        var options = GenerateCommand.Options(args, defaults with { MaxNewTokens = defaults.MaxNewTokens ?? 256 });
        string? system = args.String("system");
        var codec = TextCodecs.Load(dir, ModelOptions.ChatTemplateSource(args))
            ?? throw new BambaException($"{dir} has no tokenizer.json: chat needs a tokenizer and a chat template");
        if (!codec.HasChatTemplate)
            throw new BambaException($"{dir}: the tokenizer has no chat_template (tokenizer_config.json); give one with --chat-template FILE");
        using var model = ModelOptions.LoadForGeneration(args);
        args.EnsureAllUsed();
        var stops = options with { EosTokenIds = [.. options.EosTokenIds ?? model.Tokens.EosTokenIds, .. ((HfTextCodec)codec).Tokenizer.EosIds] };
        bool interactive = _stdin is null && !Console.IsInputRedirected && !Console.IsOutputRedirected;
        if (interactive)
            stdout.WriteLine($"bamba chat: {Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)))} " +
                             $"(a vocabulary of {model.Tokens.VocabSize} tokens). /help lists the commands, Ctrl-C stops a reply, /exit quits.");
        Func<string, string?> readLine = interactive ? new LineEditor().ReadLine : _ => (_stdin ?? Console.In).ReadLine();
        new ChatSession(new Generator(model), codec, stops, system, stdout, interactive).Run(readLine);
        return 0;
    }
}
