using System.Text.RegularExpressions;
using Bamba.Backends.Cuda;

namespace Bamba.Tests.Backends;

/// <summary>
/// Which CUDA kernels get programmatic dependent launches is read from the kernel source: only those that wait for
/// the previous kernel first, or read nothing but weights before that wait. Checked here without a GPU, since a kernel
/// wrongly in either set would race its producer.
/// </summary>
public class KernelSourceTests
{
    private static readonly string Source = KernelCompiler.KernelSource();

    [Fact]
    public void InferenceKernelsOverlapTheirPredecessorsExceptTheWeightWriters()
    {
        var all = Regex.Matches(Source, @"__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s*)?(\w+)").Select(m => m.Groups[1].Value).ToList();
        var kernels = KernelCompiler.ProgrammaticKernels(Source);
        string[] weightWriters = ["convert_to_act", "convert_to_f32", "fill_uniform_act", "fill_quant_placeholder", .. all.Where(k => k.StartsWith("dequant_f32_", StringComparison.Ordinal))];

        var expected = all.Where(k => !k.StartsWith("train_", StringComparison.Ordinal) && !weightWriters.Contains(k)).Order();
        Assert.Equal(expected, kernels.WaitFirst.Concat(kernels.WeightsFirst).Order());
        Assert.Equal(["gemv_bf16", "gemv_f8", "gemv_swiglu_bf16"], kernels.WeightsFirst.Order());
    }

    [Fact]
    public void AKernelThatReadsWeightsFirstOverlapsOnlyAKernelThatWritesNone()
    {
        var kernels = KernelCompiler.ProgrammaticKernels(Source);

        Assert.True(kernels.MayOverlap("add_rmsnorm", null));
        Assert.True(kernels.MayOverlap("add_rmsnorm", "convert_to_act")); // it waits before reading anything
        Assert.True(kernels.MayOverlap("gemv_bf16", "add_rmsnorm"));
        Assert.True(kernels.MayOverlap("gemv_bf16", "gemv_swiglu_bf16"));
        Assert.False(kernels.MayOverlap("gemv_bf16", "convert_to_act"));
        Assert.False(kernels.MayOverlap("gemv_bf16", "fill_uniform_act"));
        Assert.False(kernels.MayOverlap("gemv_bf16", "train_f32_to_bf16"));
        Assert.False(kernels.MayOverlap("gemv_bf16", null));
        Assert.False(kernels.MayOverlap("train_adamw", "add_rmsnorm"));
    }

    [Fact]
    public void AKernelThatTouchesMemoryBeforeWaitingIsNotProgrammatic()
    {
        const string source = """
            extern "C" __global__ void early(float* x) {
                x[0] = 1.f;
                pdl_enter();
            }
            extern "C" __global__ void waits(float* x, int n) {
                pdl_enter();
                x[n] = 1.f;
            }
            extern "C" __global__ void streams(const float* w, float* y) {
                PDL_WEIGHTS_FIRST;
                y[0] = w[0];
            }
            """;
        var kernels = KernelCompiler.ProgrammaticKernels(source);
        Assert.Equal(["waits"], kernels.WaitFirst);
        Assert.Equal(["streams"], kernels.WeightsFirst);
    }

    /// <summary>The sizes kernels and launchers share have one source: KernelConstants passes them; no .cu defines them.</summary>
    [Fact]
    public void SharedSizesComeOnlyFromKernelConstants()
    {
        foreach (var (name, _) in KernelConstants.Named)
        {
            Assert.DoesNotMatch($@"#define\s+{name}\b", Source);
            Assert.Matches($@"\b{name}\b", Source);
        }
        Assert.Equal(CudaKvPool.BlockTokens, KernelConstants.KvBlock);
    }
}
