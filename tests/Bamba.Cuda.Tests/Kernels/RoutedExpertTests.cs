using Bamba.Backends.Cuda;
using Bamba.Numerics;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>
/// The routed experts' device paths against a host loop over the same routing: the decode GEMVs (every precision, any
/// row count) and the bf16 grouped GEMMs (tiles past an expert's rows, an expert with none, widths that are not
/// multiples of the tiles), gated (SwiGLU) and squared-ReLU experts, with and without a shared expert's output.
/// </summary>
public class RoutedExpertTests
{
    private const int Experts = 8, Hidden = 200, Inter = 48, K = 2;

    [Theory]
    [InlineData(CudaPrecision.Float32, true, 3)]
    [InlineData(CudaPrecision.Float32, false, 150)]
    [InlineData(CudaPrecision.BFloat16, true, 1)]
    [InlineData(CudaPrecision.BFloat16, false, 3)]
    [InlineData(CudaPrecision.BFloat16, true, 150)]
    [InlineData(CudaPrecision.BFloat16, false, 150)]
    public void RoutedExpertsMatchAHostLoop(CudaPrecision precision, bool gated, int rows)
    {
        var ops = Gpu.Ops(precision);
        var random = new Random(rows + (gated ? 1 : 0));
        int upRows = gated ? 2 * Inter : Inter;
        var up = Enumerable.Range(0, Experts).Select(e => Gpu.Rounded(ops, Gpu.Random(10 + e, upRows * Hidden, 0.2f))).ToArray();
        var down = Enumerable.Range(0, Experts).Select(e => Gpu.Rounded(ops, Gpu.Random(30 + e, Hidden * Inter, 0.2f))).ToArray();
        var x = Gpu.Rounded(ops, Gpu.Random(50, rows * Hidden));
        float[]? shared = rows > 100 ? Gpu.Rounded(ops, Gpu.Random(51, rows * Hidden)) : null;
        // k distinct experts a row, expert 0 in most rows (several tiles of it), the last expert in none.
        var ids = new int[rows * K];
        for (int r = 0; r < rows; r++)
        {
            ids[r * K] = random.Next(4) == 0 ? random.Next(1, Experts - 1) : 0;
            do ids[r * K + 1] = random.Next(0, Experts - 1); while (ids[r * K + 1] == ids[r * K]);
        }
        var weights = Enumerable.Range(0, rows * K).Select(_ => random.NextSingle()).ToArray();
        var expected = HostLoop(ops, gated, up, down, x, shared, ids, weights, rows);

        var buffers = up.Concat(down).Select(m => Gpu.Act(ops, m)).ToList();
        try
        {
            using var upTable = ops.Device.Upload<ulong>(buffers.Take(Experts).Select(b => b.Pointer).ToArray());
            using var downTable = ops.Device.Upload<ulong>(buffers.Skip(Experts).Select(b => b.Pointer).ToArray());
            var tables = new CudaOps.ExpertTables(upTable.Pointer, downTable.Pointer, Inter, gated);
            using var xd = Gpu.Act(ops, x);
            using var sharedOnDevice = shared is null ? null : Gpu.Act(ops, shared);
            using var idsOnDevice = Gpu.I32(ids);
            using var weightsOnDevice = Gpu.F32(weights);
            using var outd = ops.Device.Allocate((long)rows * Hidden * ops.ActBytes);
            ulong sharedPointer = sharedOnDevice?.Pointer ?? 0;

            ops.ExpertsGemv(tables, xd.Pointer, idsOnDevice.Pointer, weightsOnDevice.Pointer, sharedPointer, outd.Pointer, rows, K, Hidden);
            Close.Assert(expected, Gpu.ReadAct(ops, outd.Pointer, rows * Hidden), Close.For(ops), "routed GEMVs");
            if (precision != CudaPrecision.BFloat16) return;
            ops.Device.Clear(outd.Pointer, (long)rows * Hidden * ops.ActBytes);
            ops.ExpertsGrouped(tables, Experts, xd.Pointer, idsOnDevice.Pointer, weightsOnDevice.Pointer, sharedPointer, outd.Pointer, rows, K, Hidden);
            Close.Assert(expected, Gpu.ReadAct(ops, outd.Pointer, rows * Hidden), Close.For(ops), "grouped GEMMs");
        }
        finally
        {
            foreach (var b in buffers) b.Dispose();
        }
    }

    /// <summary>The router's float32 product: decode rows in its GEMV, more rows through cuBLASLt; activations rounded as stored.</summary>
    [Theory]
    [InlineData(CudaPrecision.Float32, 3)]
    [InlineData(CudaPrecision.Float32, 10)]
    [InlineData(CudaPrecision.BFloat16, 1)]
    [InlineData(CudaPrecision.BFloat16, 10)]
    public void RouterLogitsAreTheFloat32Product(CudaPrecision precision, int rows)
    {
        var ops = Gpu.Ops(precision);
        int experts = 72;
        var x = Gpu.Rounded(ops, Gpu.Random(60, rows * Hidden));
        var w = Gpu.Random(61, experts * Hidden, 0.2f);
        var expected = new float[rows * experts];
        for (int r = 0; r < rows; r++)
            for (int e = 0; e < experts; e++)
            {
                double sum = 0;
                for (int i = 0; i < Hidden; i++) sum += (double)x[r * Hidden + i] * w[e * Hidden + i];
                expected[r * experts + e] = (float)sum;
            }
        using var xd = Gpu.Act(ops, x);
        using var wd = Gpu.F32(w);
        ulong logits = ops.RouterLogits(xd.Pointer, new DeviceMatrix(wd.Pointer, experts, Hidden, Weights.DType.F32), rows);
        Close.Assert(expected, Gpu.ReadF32(logits, rows * experts), 1e-5, "router logits");
    }

    /// <summary>Each row's experts one after another, rounded where the device stores a value in its activation type.</summary>
    private static float[] HostLoop(CudaOps ops, bool gated, float[][] up, float[][] down, float[] x, float[]? shared, int[] ids, float[] weights, int rows)
    {
        float Round(double v) => ops.Precision == CudaPrecision.Float32 ? (float)v : BFloat16.ToSingle(BFloat16.FromSingle((float)v));
        double Dot(float[] w, int row, float[] v, int offset, int n)
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += (double)w[row * n + i] * v[offset + i];
            return s;
        }
        var result = new float[rows * Hidden];
        var h = new float[Inter];
        for (int r = 0; r < rows; r++)
        {
            var acc = new double[Hidden];
            for (int j = 0; j < K; j++)
            {
                int e = ids[r * K + j];
                for (int i = 0; i < Inter; i++)
                {
                    float a = Round(Dot(up[e], i, x, r * Hidden, Hidden));
                    h[i] = gated
                        ? Round(a / (1 + Math.Exp(-a)) * Round(Dot(up[e], Inter + i, x, r * Hidden, Hidden)))
                        : Round(Math.Max(a, 0f) * Math.Max(a, 0f));
                }
                for (int c = 0; c < Hidden; c++) acc[c] += weights[r * K + j] * Round(Dot(down[e], c, h, 0, Inter));
            }
            for (int c = 0; c < Hidden; c++) result[r * Hidden + c] = Round(acc[c] + (shared?[r * Hidden + c] ?? 0f));
        }
        return result;
    }
}
