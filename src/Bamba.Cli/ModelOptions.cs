using Bamba.Backends;
using Bamba.Backends.Cuda;
using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Tokenization;

namespace Bamba.Cli;

/// <summary>The flags every model command shares (<c>--model DIR</c>, <c>--device cpu|cuda|auto</c>) and loading the model they name.</summary>
internal static class ModelOptions
{
    public static readonly Flag Model = new("model", "the model directory (config.json, *.safetensors, tokenizer.json)", "DIR");

    public static readonly Flag ChatTemplate = new("chat-template", "a Jinja chat template file, used instead of the tokenizer_config.json's", "FILE");

    /// <summary>The source of the <c>--chat-template</c> file, or null when the flag is absent.</summary>
    public static string? ChatTemplateSource(CommandLine args) => args.String("chat-template") is { } path
        ? File.Exists(path) ? File.ReadAllText(path) : throw new BambaException($"--chat-template {path}: file not found")
        : null;

    /// <summary><c>--lora DIR</c>: a PEFT LoRA adapter applied unmerged (CPU or CUDA).</summary>
    public static readonly Flag Lora = new("lora", "apply this LoRA adapter (PEFT's adapter_config.json + adapter_model.safetensors) unmerged", "DIR");

    /// <summary>serve's <c>--lora [NAME=]DIR</c>: adapters every request gets (DIR) or picks by name (NAME=DIR); see <see cref="ParseAdapters"/>.</summary>
    public static readonly Flag ServeLora = Flag.Repeated("lora",
        "a PEFT LoRA adapter applied unmerged (CPU or CUDA): DIR applies to every request (at most one); NAME=DIR to the requests whose model is NAME or MODEL:NAME, on top of DIR's; repeatable", "[NAME=]DIR");

    /// <summary><c>--device</c> and <c>--precision</c>, for the commands that run a model.</summary>
    public static readonly Flag[] Device =
    [
        new("device", "cpu, cuda (one NVIDIA GPU) or auto (the GPU when one opens)", "cpu|cuda|auto", "cpu"),
        new("precision", "on CUDA: bf16 (bf16 weights and activations, fp32 accumulation) or fp32 (the parity mode); the CPU computes in fp32", "bf16|fp32", "bf16"),
    ];

    public static BambaModel Load(CommandLine args) => BambaModel.Load(Directory(args));

    /// <summary>--model's directory, or the complete checkpoint a kill mid-save left in <c>DIR.previous</c>.</summary>
    public static string Directory(CommandLine args) => Bamba.Training.Checkpoint.ReadableDirectory(args.Required("model"));

    /// <summary>
    /// The model on the device named by <c>--device</c> (default cpu; auto = CUDA when a GPU is usable). On CUDA,
    /// <c>--precision</c> picks bf16 activations (default) or fp32 (the parity mode); the CPU always computes in fp32.
    /// </summary>
    public static ISequenceModel LoadForGeneration(CommandLine args) => GenerationModel(args)();

    /// <summary>
    /// Reads the flags of <see cref="LoadForGeneration"/> now (so that a later <c>EnsureAllUsed</c> knows them) and
    /// loads the model when called: a command can reject its other flags before the slow load.
    /// </summary>
    public static Func<ISequenceModel> GenerationModel(CommandLine args) => Loader(args, args.String("lora"), []);

    /// <summary>Like <see cref="GenerationModel"/>, with serve's repeatable <c>--lora [NAME=]DIR</c>.</summary>
    public static Func<ISequenceModel> ServingModel(CommandLine args)
    {
        var (shared, picked) = ParseAdapters(args.Strings("lora"));
        return Loader(args, shared, picked);
    }

    private static Func<ISequenceModel> Loader(CommandLine args, string? lora, IReadOnlyList<AdapterPath> picked)
    {
        string dir = Directory(args);
        var device = ModelFactory.ParseDevice(args.Choice("device", "cpu", "cpu", "cuda", "auto"));
        var precision = Precision(args);
        // A live display only where the command takes --no-progress to turn it off; plain lines otherwise.
        bool live = args.Declares("no-progress") && Output.LiveOutput.Enabled(args);
        return () => Output.LiveOutput.Status(live, "loading", report => ModelFactory.Load(dir, device, precision, lora, picked, new UploadReport(report)));
    }

    /// <summary>
    /// The weights' upload to the GPU as progress lines: stored gigabytes so far, of the total, and the rate; one every
    /// two seconds at most, and the last.
    /// </summary>
    internal sealed class UploadReport(IProgress<string> lines) : IProgress<ModelLoadProgress>
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        private TimeSpan? _last;

        public void Report(ModelLoadProgress p)
        {
            bool done = p.Bytes >= p.TotalBytes;
            if (!done && _last is { } last && _clock.Elapsed - last < TimeSpan.FromSeconds(2)) return;
            _last = _clock.Elapsed;
            lines.Report(Line(p, _clock.Elapsed.TotalSeconds));
        }

        internal static string Line(ModelLoadProgress p, double seconds) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"weights to the GPU: {p.Bytes / 1e9:F2} of {p.TotalBytes / 1e9:F2} GB, {p.Bytes / 1e9 / Math.Max(seconds, 1e-3):F2} GB/s");
    }

    /// <summary>
    /// serve's <c>--lora</c> values: <c>NAME=DIR</c> names an adapter requests pick (NAME: letters, digits, '.', '_',
    /// '-'); a value without '=' (or an existing directory whose name has one) is the adapter every request gets.
    /// </summary>
    internal static (string? Shared, List<AdapterPath> Picked) ParseAdapters(IReadOnlyList<string> values)
    {
        string? shared = null;
        var picked = new List<AdapterPath>();
        foreach (var value in values)
        {
            int eq = value.IndexOf('=');
            if (eq < 0 || System.IO.Directory.Exists(value))
            {
                if (shared is not null) throw new BambaException($"--lora: '{shared}' and '{value}' both apply to every request; name the others (--lora NAME=DIR) so requests pick them");
                shared = value;
                continue;
            }
            string name = value[..eq], dir = value[(eq + 1)..];
            if (!IsAdapterName(name)) throw new BambaException($"--lora {value}: the adapter name '{name}' must be letters, digits, '.', '_' or '-', starting with a letter or digit");
            if (dir.Length == 0) throw new BambaException($"--lora {value}: no adapter directory after '='");
            if (picked.Any(p => p.Name == name)) throw new BambaException($"--lora: two adapters are named '{name}'");
            picked.Add(new AdapterPath(name, dir));
        }
        return (shared, picked);
    }

    private static bool IsAdapterName(string name) =>
        name.Length > 0 && char.IsAsciiLetterOrDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    public static CudaPrecision Precision(CommandLine args) =>
        args.Choice("precision", "bf16", "bf16", "fp32") == "fp32" ? CudaPrecision.Float32 : CudaPrecision.BFloat16;

    /// <summary>The model's tokenizer (tokenizer.json, or a GGUF file's tokenizer.ggml.* keys), or null when it has none (token-id prompts only).</summary>
    public static HfTokenizer? TryLoadTokenizer(string model) => Bamba.Serving.TextCodecs.TryLoadTokenizer(model);
}
