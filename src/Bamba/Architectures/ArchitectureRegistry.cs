using Bamba.Configuration;

namespace Bamba.Architectures;

/// <summary>The supported families by <c>model_type</c>: the one place that knows which exist.</summary>
public static class ArchitectureRegistry
{
    private static readonly IArchitecture[] All = [new BambaArchitecture(), new GraniteMoeHybridArchitecture(), new NemotronHArchitecture()];

    public static IEnumerable<string> ModelTypes => All.Select(a => a.ModelType);

    public static IArchitecture? Find(string modelType) => All.FirstOrDefault(a => a.ModelType == modelType);

    /// <summary>The description of a config's family (configs built in code default to Bamba).</summary>
    public static IArchitecture For(BambaConfig config) =>
        Find(config.ModelType) ?? throw new BambaException($"model_type '{config.ModelType}' is not supported (supported: {string.Join(", ", ModelTypes)})");

    /// <summary>The config's tensors, looked up by role.</summary>
    public static TensorMap TensorsOf(BambaConfig config) => new(For(config).Tensors(config));
}
