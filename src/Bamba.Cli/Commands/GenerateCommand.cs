using Bamba.Configuration;
using Bamba.Generation;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3 | --input FILE.jsonl) [--max-new-tokens N]
/// [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--repetition-penalty R] [--seed S] [--format text|json]
/// [--device cpu|cuda|auto]</c>.
/// All prompts of a run form one batch. Sampling defaults come from the model's generation_config.json.
/// </summary>
internal sealed class GenerateCommand : ICommand
{
    public string Name => "generate";
    public string Summary => "generate text or token ids from one prompt or a batch of prompts";
    public IReadOnlySet<string> Switches { get; } = new HashSet<string>();

    public int Run(CommandLine args, TextWriter stdout)
    {
        string dir = args.Required("model");
        var defaults = GenerationConfig.Load(dir);
        var options = Options(args, defaults);
        string format = args.Choice("format", "text", "text", "json");
        using var model = ModelOptions.LoadForGeneration(args);
        var prompts = Prompts(args, model.Config.VocabSize);
        args.EnsureAllUsed();

        var results = new Generator(model).Generate(prompts, options);
        foreach (var result in results)
            stdout.WriteLine(format == "json"
                ? JsonLines.Write(new { token_ids = result.TokenIds, finish_reason = result.FinishReason == FinishReason.Stop ? "stop" : "length" })
                : string.Join(",", result.TokenIds));
        return 0;
    }

    internal static GenerationOptions Options(CommandLine args, GenerationConfig defaults)
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
            MaxNewTokens = args.Int("max-new-tokens", defaults.MaxNewTokens ?? 64, 1),
            Sampling = sampling,
            EosTokenIds = defaults.EosTokenIds,
        };
    }

    private static List<int[]> Prompts(CommandLine args, int vocab)
    {
        var given = new[] { "prompt", "prompt-ids", "input" }.Where(args.Has).ToArray();
        if (given.Length != 1) throw new BambaException("give exactly one of --prompt, --prompt-ids or --input");
        var prompts = given[0] switch
        {
            "prompt-ids" => [CommandLine.ParseIds("prompt-ids", args.Required("prompt-ids"))],
            "input" => ReadInput(args.Required("input")),
            _ => throw new BambaException($"--prompt needs a tokenizer: {args.String("model")} has no tokenizer.json (use --prompt-ids)"),
        };
        foreach (var p in prompts)
            foreach (int id in p)
                if (id >= vocab) throw new BambaException($"token id {id} is outside the model's vocabulary (0..{vocab - 1})");
        return prompts;
    }

    private static List<int[]> ReadInput(string path)
    {
        var prompts = new List<int[]>();
        foreach (var (line, obj) in JsonLines.Read(path))
        {
            if (!obj.ContainsKey("prompt_ids"))
                throw new BambaException($"{path}:{line}: expected a \"prompt_ids\" list");
            var ids = JsonLines.Ids(obj["prompt_ids"], $"{path}:{line}: prompt_ids");
            if (ids.Length == 0) throw new BambaException($"{path}:{line}: prompt_ids is empty");
            prompts.Add(ids);
        }
        if (prompts.Count == 0) throw new BambaException($"{path}: no prompts in the file");
        return prompts;
    }
}
