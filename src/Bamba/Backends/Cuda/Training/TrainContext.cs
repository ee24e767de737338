using Bamba.Configuration;

namespace Bamba.Backends.Cuda.Training;

/// <summary>What every layer of the CUDA trainer shares: kernels, parameters, GEMMs and named work buffers.</summary>
internal sealed class TrainContext(CudaTrainOps ops, CudaParameters parameters, TrainGemm gemm, DeviceScratch scratch)
{
    public CudaTrainOps Ops => ops;
    public CudaOps Kernels => ops.Ops;
    public CudaParameters Parameters => parameters;
    public TrainGemm Gemm => gemm;
    public BambaConfig Config => parameters.Config;
    public float Eps => (float)Config.RmsNormEps;

    /// <summary>A float32 work buffer of <paramref name="floats"/> elements under a fixed name (reused across batches).</summary>
    public ulong Buffer(string name, long floats) => scratch.Get(name, 4 * Math.Max(1, floats));

    /// <summary>The address of column <paramref name="column"/> of a float32 row-major buffer's first row.</summary>
    public static ulong Column(ulong buffer, int column) => buffer + 4UL * (ulong)column;

    /// <summary>dx += RMSNorm's input gradient and the weight's gradient += its share.</summary>
    public void RmsNormBackward(ulong x, string weight, ulong dy, ulong dx, int rows, int width)
    {
        ulong rstd = Buffer("bwd.rstd", rows);
        ops.RmsNormBackward(x, parameters.Value(weight), dy, dx, rstd, rows, width, Eps);
        ops.NormWeightGrad(x, dy, rstd, rows, width, width, parameters.Grad(weight));
    }
}
