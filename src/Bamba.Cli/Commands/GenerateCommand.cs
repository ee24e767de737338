using Bamba.Configuration;
using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Tokenization;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3 | --input FILE.jsonl) [--max-new-tokens N]
/// [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--repetition-penalty R] [--seed S] [--format text|json]
/// [--device cpu|cuda|auto] [--precision bf16|fp32] [--save-state FILE] [--load-state FILE]</c>.
/// All prompts of a run form one batch. Sampling defaults come from the model's generation_config.json. With a
/// tokenizer, text prompts are encoded with its special tokens (BOS) and one text prompt streams its output.
/// </summary>
internal sealed class GenerateCommand : ICommand
{
    public string Name => "generate";
    public string Summary => "generate text or token ids from one prompt or a batch of prompts";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        ModelOptions.Model,
        ModelOptions.Lora,
        Output.LiveOutput.NoProgress,
        new("prompt", "a text prompt (needs the model's tokenizer: tokenizer.json, or the one a GGUF file stores); encoded with its special tokens (BOS)", "TEXT"),
        new("prompt-ids", "a prompt as comma-separated token ids", "1,2,3"),
        new("input", "a batch of prompts: one {\"prompt_ids\": [...]} or {\"prompt\": \"text\"} per line, run as one batch; - reads stdin", "FILE.jsonl"),
        .. SamplingFlags(maxNewTokensFallback: 64),
        new("format", "text: the generated text (or ids without a tokenizer); json: {token_ids, text, finish_reason} per prompt", "text|json", "text"),
        new("save-state", "write the sequence's state after the prompt and what was generated (CPU; --max-new-tokens 0 only ingests the prompt)", "FILE"),
        new("load-state", "continue a sequence saved with --save-state; --prompt/--prompt-ids, if given, are appended first", "FILE"),
        .. ModelOptions.Device,
    ];
    public IReadOnlyList<string> Examples { get; } =
    [
        "bamba generate --model models/default --prompt \"The meaning of life is\" --max-new-tokens 40",
        "bamba generate --model models/default --prompt-ids 1,2,3 --temperature 0.8 --top-p 0.9 --seed 1 --format json",
        "bamba generate --model DIR --input prompts.jsonl --format json --device cuda",
        "bamba generate --model DIR --prompt \"Once upon a time\" --max-new-tokens 0 --save-state story.state",
        "bamba generate --model DIR --load-state story.state --max-new-tokens 40",
    ];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string dir = ModelOptions.Directory(args);
        var defaults = GenerationConfig.Load(dir);
        string format = args.Choice("format", "text", "text", "json");
        if (args.Has("save-state") || args.Has("load-state")) return RunSession(args, dir, defaults, format, stdout);
        var options = Options(args, defaults);
        using var model = ModelOptions.LoadForGeneration(args);
        var tokenizer = ModelOptions.TryLoadTokenizer(dir);
        var prompts = Prompts(args, tokenizer, model.Tokens.VocabSize);
        args.EnsureAllUsed();

        var generator = new Generator(model);
        if (format == "text" && tokenizer is not null && prompts.Count == 1)
            return Stream(generator, prompts[0], options, tokenizer, stdout);
        foreach (var result in generator.Generate(prompts, options))
            stdout.WriteLine(format == "json" ? Json(result, tokenizer) : Text(result, tokenizer));
        return 0;
    }

    /// <summary>
    /// --load-state and/or --save-state: one sequence through a <see cref="SequenceSession"/>, restored from and/or saved to
    /// a state file (<see cref="SessionFile"/>); the prompt is optional when a state is loaded.
    /// </summary>
    private static int RunSession(CommandLine args, string dir, GenerationConfig defaults, string format, TextWriter stdout)
    {
        string? load = args.String("load-state"), save = args.String("save-state");
        if (args.Has("input")) throw new BambaException("--save-state and --load-state take one sequence: give --prompt or --prompt-ids, not --input");
        var options = Options(args, defaults, minNewTokens: save is null ? 1 : 0);
        int maxNewTokens = args.Int("max-new-tokens", options.MaxNewTokens, 0);
        using var model = ModelOptions.LoadForGeneration(args);
        var files = model as IStateFiles ?? throw new BambaException("--save-state and --load-state work with the CPU backend (--device cpu)");
        var tokenizer = ModelOptions.TryLoadTokenizer(dir);
        // Text appended to a loaded sequence is encoded without special tokens: no BOS in mid-sequence.
        var prompt = load is null ? Prompts(args, tokenizer, model.Tokens.VocabSize)[0]
            : args.Has("prompt") ? Encode(args.Required("prompt"), tokenizer, dir, "--prompt", specialTokens: false)
            : args.Has("prompt-ids") ? Prompts(args, tokenizer, model.Tokens.VocabSize)[0] : [];
        args.EnsureAllUsed();

        using var session = load is null ? SequenceSession.Start(model) : files.LoadState(load);
        var result = session.Run(new Generator(model), prompt, maxNewTokens, options with { MaxNewTokens = Math.Max(1, maxNewTokens) });
        if (save is not null) files.SaveState(save, session);
        if (maxNewTokens > 0 || format == "json") stdout.WriteLine(format == "json" ? Json(result, tokenizer) : Text(result, tokenizer));
        return 0;
    }

    private static int Stream(Generator generator, int[] prompt, GenerationOptions options, HfTokenizer tokenizer, TextWriter stdout)
    {
        var decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        var tokens = generator.StreamAsync(prompt, options).ToBlockingEnumerable();
        foreach (int id in tokens)
        {
            stdout.Write(decoder.Add(id));
            stdout.Flush();
        }
        stdout.WriteLine(decoder.Flush());
        return 0;
    }

    private static string Json(GenerationResult result, HfTokenizer? tokenizer)
    {
        string finish = result.FinishReason == FinishReason.Stop ? "stop" : "length";
        return JsonLines.Write(new GenerationLine(result.TokenIds, tokenizer?.Decode(result.TokenIds, skipSpecialTokens: true), finish));
    }

    private static string Text(GenerationResult result, HfTokenizer? tokenizer) =>
        tokenizer is null ? string.Join(",", result.TokenIds) : tokenizer.Decode(result.TokenIds, skipSpecialTokens: true);

    /// <summary>The sampling flags of generate and chat; their defaults come from the model's generation_config.json.</summary>
    internal static Flag[] SamplingFlags(int maxNewTokensFallback) =>
    [
        new("max-new-tokens", "tokens to generate at most", "N", $"generation_config.json's max_new_tokens, else {maxNewTokensFallback}"),
        new("temperature", "0 = greedy; above 0 samples", "T", "generation_config.json's; greedy unless it sets do_sample"),
        new("top-k", "sample among the K most likely tokens (0 = all)", "K", "generation_config.json's, else 50"),
        new("top-p", "nucleus sampling: the smallest set of tokens with probability ≥ P", "P", "generation_config.json's, else 1"),
        new("min-p", "drop tokens below P × the most likely token's probability", "P", "generation_config.json's, else 0"),
        new("repetition-penalty", "penalise tokens already in the sequence (transformers' rule)", "R", "generation_config.json's, else 1"),
        new("seed", "makes sampling reproducible (row i of a batch uses seed + i)", "S"),
    ];

    internal static GenerationOptions Options(CommandLine args, GenerationConfig defaults, int minNewTokens = 1)
    {
        var d = defaults.Sampling;
        bool samplingFlag = args.Has("top-k") || args.Has("top-p") || args.Has("min-p");
        // A sampling flag on a greedy default turns sampling on at temperature 1, as do_sample=True would.
        float temperature = args.Float("temperature", d.IsGreedy && samplingFlag ? 1f : d.Temperature, 0f);
        var sampling = new SamplingOptions
        {
            Temperature = temperature,
            TopK = args.Int("top-k", d.TopK, 0),
            TopP = args.Float("top-p", d.TopP, 0f, 1f),
            MinP = args.Float("min-p", d.MinP, 0f, 1f),
            RepetitionPenalty = args.Float("repetition-penalty", d.RepetitionPenalty, 0f),
            Seed = args.Long("seed") is long s ? unchecked((ulong)s) : null,
        };
        return new GenerationOptions
        {
            MaxNewTokens = Math.Max(1, args.Int("max-new-tokens", defaults.MaxNewTokens ?? 64, minNewTokens)),
            Sampling = sampling,
            EosTokenIds = defaults.EosTokenIds,
        };
    }

    private static List<int[]> Prompts(CommandLine args, HfTokenizer? tokenizer, int vocab)
    {
        var given = new[] { "prompt", "prompt-ids", "input" }.Where(args.Has).ToArray();
        if (given.Length != 1) throw new BambaException("give exactly one of --prompt, --prompt-ids or --input");
        var prompts = given[0] switch
        {
            "prompt-ids" => [CommandLine.ParseIds("prompt-ids", args.Required("prompt-ids"))],
            "input" => ReadInput(args.Required("input"), tokenizer, ModelOptions.Directory(args)),
            _ => [Encode(args.Required("prompt"), tokenizer, ModelOptions.Directory(args), "--prompt")],
        };
        foreach (var p in prompts)
            foreach (int id in p)
                if (id >= vocab) throw new BambaException($"token id {id} is outside the model's vocabulary (0..{vocab - 1})");
        return prompts;
    }

    private static int[] Encode(string text, HfTokenizer? tokenizer, string modelDir, string where, bool specialTokens = true)
    {
        if (tokenizer is null)
            throw new BambaException($"{where}: text prompts need a tokenizer, and {modelDir} has no tokenizer.json (nor, as a GGUF file, tokenizer.ggml.* keys): give token ids instead");
        var ids = tokenizer.Encode(text, addSpecialTokens: specialTokens);
        return ids.Length > 0 ? ids : throw new BambaException($"{where}: the prompt encodes to no tokens");
    }

    private static List<int[]> ReadInput(string path, HfTokenizer? tokenizer, string modelDir)
    {
        var prompts = new List<int[]>();
        foreach (var (line, obj) in JsonLines.Read(path))
        {
            string where = $"{path}:{line}";
            if (obj["prompt"] is { } text)
                prompts.Add(Encode(text.GetValueKind() == System.Text.Json.JsonValueKind.String ? text.GetValue<string>()
                    : throw new BambaException($"{where}: \"prompt\" must be a string"), tokenizer, modelDir, where));
            else if (obj.ContainsKey("prompt_ids"))
            {
                var ids = JsonLines.Ids(obj["prompt_ids"], $"{where}: prompt_ids");
                prompts.Add(ids.Length > 0 ? ids : throw new BambaException($"{where}: prompt_ids is empty"));
            }
            else throw new BambaException($"{where}: expected \"prompt_ids\" (a list of ids) or \"prompt\" (text)");
        }
        if (prompts.Count == 0) throw new BambaException($"{path}: no prompts in the file");
        return prompts;
    }
}
