using Bamba.Generation;
using Bamba.Modeling;

namespace Bamba.Cli;

/// <summary>The flags every model command shares (<c>--model DIR</c>) and loading the model they name.</summary>
internal static class ModelOptions
{
    public static BambaModel Load(CommandLine args)
    {
        string dir = args.Required("model");
        return BambaModel.Load(dir);
    }

    public static ISequenceModel LoadForGeneration(CommandLine args) => Load(args);
}
