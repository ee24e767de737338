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
    public static Func<ISequenceModel> GenerationModel(CommandLine args)
    {
        string dir = Directory(args);
        var device = ModelFactory.ParseDevice(args.Choice("device", "cpu", "cpu", "cuda", "auto"));
        var precision = Precision(args);
        string? lora = args.String("lora");
        return () => ModelFactory.Load(dir, device, precision, lora);
    }

    public static CudaPrecision Precision(CommandLine args) =>
        args.Choice("precision", "bf16", "bf16", "fp32") == "fp32" ? CudaPrecision.Float32 : CudaPrecision.BFloat16;

    /// <summary>The model's tokenizer (tokenizer.json, or a GGUF file's tokenizer.ggml.* keys), or null when it has none (token-id prompts only).</summary>
    public static HfTokenizer? TryLoadTokenizer(string model) => Bamba.Serving.TextCodecs.TryLoadTokenizer(model);
}
