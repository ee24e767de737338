using Bamba.Benchmarks;
using Bamba.Modeling;
using Bamba.Weights;

namespace Bamba.Cli.Bench;

/// <summary>The CPU model a CPU benchmark measures: <c>--model DIR</c>, or the cpu-0.5b preset written to a temporary folder.</summary>
internal static class CpuBenchModel
{
    /// <summary>
    /// Loads <paramref name="modelDir"/>, or (when null) writes <paramref name="preset"/>'s synthetic model (random bf16
    /// weights) to a temporary folder and loads that, then runs <paramref name="measure"/> on it with the name to report
    /// (the directory, or "preset NAME"). The temporary folder is removed whatever happens.
    /// </summary>
    public static T Measure<T>(string? modelDir, string preset, IProgress<string> progress, Func<BambaModel, string, T> measure)
    {
        string? temp = null;
        try
        {
            if (modelDir is null)
            {
                temp = modelDir = Directory.CreateTempSubdirectory("bamba-bench-").FullName;
                progress.Report($"writing the {preset} synthetic model (random bf16 weights) to {temp}");
                SyntheticModel.Write(SyntheticModel.Cpu05B, temp, DType.BF16);
            }
            using var model = BambaModel.Load(modelDir);
            return measure(model, temp is null ? modelDir : $"preset {preset}");
        }
        finally
        {
            if (temp is not null) Directory.Delete(temp, recursive: true);
        }
    }
}
