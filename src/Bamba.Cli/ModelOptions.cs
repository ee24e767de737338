using Bamba.Backends;
using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Tokenization;

namespace Bamba.Cli;

/// <summary>The flags every model command shares (<c>--model DIR</c>, <c>--device cpu|cuda|auto</c>) and loading the model they name.</summary>
internal static class ModelOptions
{
    public static BambaModel Load(CommandLine args)
    {
        string dir = args.Required("model");
        return BambaModel.Load(dir);
    }

    /// <summary>The model on the device named by <c>--device</c> (default cpu; auto = CUDA when a GPU is usable).</summary>
    public static ISequenceModel LoadForGeneration(CommandLine args)
    {
        string dir = args.Required("model");
        var device = ModelFactory.ParseDevice(args.Choice("device", "cpu", "cpu", "cuda", "auto"));
        return ModelFactory.Load(dir, device);
    }

    /// <summary>The model directory's tokenizer, or null when it has no tokenizer.json (token-id prompts only).</summary>
    public static HfTokenizer? TryLoadTokenizer(string modelDirectory) =>
        File.Exists(Path.Combine(modelDirectory, "tokenizer.json")) ? HfTokenizer.Load(modelDirectory) : null;
}
