using Bamba.Architectures;
using Bamba.Configuration;
using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// What every layer of the CUDA trainer shares: kernels, parameters, GEMMs and named work buffers.
/// <paramref name="recompute"/>: the layers recompute their activations in the backward, so their tapes share one
/// layer's worth of buffers (<see cref="TapeName"/>).
/// </summary>
internal sealed class TrainContext(CudaTrainOps ops, CudaParameters parameters, TrainGemm gemm, DeviceScratch scratch, bool recompute)
{
    public CudaTrainOps Ops => ops;
    public CudaOps Kernels => ops.Ops;
    public CudaParameters Parameters => parameters;
    public TrainGemm Gemm => gemm;
    public BambaConfig Config => parameters.Config;
    /// <summary>The model's parameters as its family's description names them (the CPU trainer's set).</summary>
    public ParameterSet Set => parameters.Host!;
    /// <summary>A tensor by role, as the whole matrix a GEMM reads.</summary>
    public ParameterSlice Weight(TensorRole role, int layer = -1) => Set[role, layer].Whole;
    /// <summary>A tensor's master values on the device, by role (0 when the family has no such tensor).</summary>
    public ulong Value(TensorRole role, int layer = -1) => Set.Find(role, layer) is { } p ? parameters.Value(p) : 0UL;
    /// <summary>A tensor's gradient on the device, by role (0 when the family has no such tensor).</summary>
    public ulong Grad(TensorRole role, int layer = -1) => Set.Find(role, layer) is { } p ? parameters.Grad(p) : 0UL;
    public float Eps => (float)Config.RmsNormEps;
    public bool Recompute => recompute;

    /// <summary>
    /// The name of a buffer in layer <paramref name="layer"/>'s tape: its own (<c>L{layer}.name</c>), or, when
    /// recomputing, <c>tape.name</c>, which every layer reuses, as only the layer being differentiated needs its tape.
    /// </summary>
    public string TapeName(int layer, string name) => (recompute ? "tape." : $"L{layer}.") + name;

    /// <summary>A float32 work buffer of <paramref name="floats"/> elements under a fixed name (reused across batches).</summary>
    public ulong Buffer(string name, long floats) => scratch.Get(name, 4 * Math.Max(1, floats));

    /// <summary>Host values into the work buffer <paramref name="name"/>, ordered on the stream (int32 or float32 only).</summary>
    public ulong Upload<T>(string name, T[] values) where T : unmanaged
    {
        if (System.Runtime.CompilerServices.Unsafe.SizeOf<T>() != 4) throw new ArgumentException("work buffers hold 4-byte values");
        ulong p = Buffer(name, values.Length);
        Kernels.Device.Copy<T>(p, values);
        return p;
    }

    /// <summary>The address of column <paramref name="column"/> of a float32 row-major buffer's first row.</summary>
    public static ulong Column(ulong buffer, int column) => buffer + 4UL * (ulong)column;

    /// <summary>dx += RMSNorm's input gradient and the weight's gradient += its share.</summary>
    public void RmsNormBackward(ulong x, Parameter weight, ulong dy, ulong dx, int rows, int width)
    {
        ulong rstd = Buffer("bwd.rstd", rows);
        ops.RmsNormBackward(x, parameters.Value(weight), dy, dx, rstd, rows, width, Eps);
        ops.NormWeightGrad(x, dy, rstd, rows, width, width, parameters.Grad(weight));
    }
}
