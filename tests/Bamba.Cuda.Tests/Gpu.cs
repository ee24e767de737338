using Bamba.Backends.Cuda;
using Bamba.Numerics;

namespace Bamba.Cuda.Tests;

/// <summary>
/// The one GPU the tests share, opened once per process; every GPU test calls <see cref="Ops"/> first, which skips the
/// test (xunit.v3 Assert.Skip) where CUDA is not available, as on CI.
/// </summary>
public static class Gpu
{
    private static readonly Lazy<(CudaDevice? Device, string Reason)> Shared = new(() =>
    {
        try { return CudaDevice.TryOpen(0, out var d, out var reason) ? (d, "") : (null, reason); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or Backends.Cuda.Native.CudaException) { return (null, e.Message); }
    });

    private static readonly Lazy<CudaOps>[] OpsByPrecision =
    [
        new(() => new CudaOps(Device, CudaPrecision.Float32)),
        new(() => new CudaOps(Device, CudaPrecision.BFloat16)),
        new(() => new CudaOps(Device, CudaPrecision.BFloat16, bf16SsmState: true)),
    ];

    public static CudaDevice Device => Shared.Value.Device ?? throw new InvalidOperationException("no device");

    /// <summary>Skips the calling test when no CUDA device can be opened.</summary>
    public static void Require()
    {
        if (Shared.Value.Device is null) Assert.Skip("CUDA is not available: " + Shared.Value.Reason);
    }

    public static CudaOps Ops(CudaPrecision precision = CudaPrecision.Float32, bool bf16SsmState = false)
    {
        Require();
        return OpsByPrecision[bf16SsmState ? 2 : (int)precision].Value;
    }

    /// <summary>What the ops' SSM state stores: bf16-rounded values for a bf16 state, the values themselves for float32.</summary>
    public static float[] StateRounded(CudaOps ops, float[] v) =>
        ops.StateBytes == 4 ? v : v.Select(x => BFloat16.ToSingle(BFloat16.FromSingle(x))).ToArray();

    /// <summary>Uploads an SSM state in the ops' state type; the caller disposes.</summary>
    public static DeviceBuffer State(CudaOps ops, float[] v) =>
        ops.StateBytes == 4 ? F32(v) : Device.Upload<ushort>(v.Select(BFloat16.FromSingle).ToArray());

    public static float[] ReadState(CudaOps ops, ulong pointer, int n) =>
        ops.StateBytes == 4 ? ReadF32(pointer, n) : Device.Download<ushort>(pointer, n).Select(BFloat16.ToSingle).ToArray();

    public static float[] Random(int seed, int n, float scale = 1f)
    {
        var rng = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return v;
    }

    /// <summary>What the precision stores: bf16-rounded values in bf16 mode, the values themselves in fp32 mode.</summary>
    public static float[] Rounded(CudaOps ops, float[] v) =>
        ops.Precision == CudaPrecision.Float32 ? v : v.Select(x => BFloat16.ToSingle(BFloat16.FromSingle(x))).ToArray();

    /// <summary>Uploads float32 values as the precision's activation type; the caller disposes.</summary>
    public static DeviceBuffer Act(CudaOps ops, float[] v) =>
        ops.Precision == CudaPrecision.Float32 ? ops.Device.Upload<float>(v) : ops.Device.Upload<ushort>(v.Select(BFloat16.FromSingle).ToArray());

    public static float[] ReadAct(CudaOps ops, ulong pointer, int n)
    {
        if (ops.Precision == CudaPrecision.Float32) return ops.Device.Download<float>(pointer, n);
        var bits = ops.Device.Download<ushort>(pointer, n);
        return bits.Select(BFloat16.ToSingle).ToArray();
    }

    public static DeviceBuffer F32(float[] v) => Device.Upload<float>(v);
    public static DeviceBuffer I32(int[] v) => Device.Upload<int>(v);
    public static float[] ReadF32(ulong pointer, int n) => Device.Download<float>(pointer, n);
}
