using Bamba.Backends.Cuda;
using Bamba.Benchmarks;
using Bamba.Configuration;
using Bamba.Weights;

namespace Bamba.Cuda.Tests.Model;

/// <summary>
/// Not a test: a speed report on a synthetic ~2 B-parameter model with Bamba-9B's layer shapes (4 layers), run on
/// the GPU machine when BAMBA_CUDA_BENCH is set. It asserts nothing about time (benchmarks assert no timings).
/// </summary>
public class CudaBenchmarkReport(ITestOutputHelper output)
{
    public static BambaConfig Bamba9BShapes4Layers => new()
    {
        VocabSize = 128256, HiddenSize = 4096, IntermediateSize = 14336, NumHiddenLayers = 4,
        NumAttentionHeads = 32, NumKeyValueHeads = 8, AttnLayerIndices = [2],
        MambaNHeads = 128, MambaDHead = 64, MambaDState = 128, MambaChunkSize = 256, Dtype = "bfloat16",
        MaxPositionEmbeddings = 8192,
    };

    [Fact]
    public void Report()
    {
        string? outFile = Environment.GetEnvironmentVariable("BAMBA_CUDA_BENCH");
        if (string.IsNullOrEmpty(outFile)) Assert.Skip("set BAMBA_CUDA_BENCH=FILE to run the GPU benchmark");
        Gpu.Require();
        string dir = Directory.CreateTempSubdirectory("bamba-cuda-bench-").FullName;
        try
        {
            SyntheticModel.Write(Bamba9BShapes4Layers, dir, DType.BF16);
            using var model = CudaModel.Load(dir, CudaPrecision.BFloat16);
            var result = CudaBenchmark.Run(model, promptTokens: 1024, newTokens: 64);
            string text = "synthetic model: Bamba-9B layer shapes, 4 layers (attention at 2), random bf16 weights\n" + result;
            output.WriteLine(text);
            File.WriteAllText(outFile, text + "\n");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
