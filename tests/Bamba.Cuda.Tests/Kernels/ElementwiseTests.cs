using Bamba.Backends.Cpu;
using Bamba.Backends.Cuda;
using Bamba.Numerics;
using Bamba.Weights;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>Embedding, residual add, bias, SwiGLU, padding masks, row gathers and the weight conversions.</summary>
public unsafe class ElementwiseTests
{
    [Theory]
    [InlineData(CudaPrecision.Float32, 1f)]
    [InlineData(CudaPrecision.BFloat16, 1f)]
    [InlineData(CudaPrecision.BFloat16, 12f)] // Granite's embedding_multiplier
    public void EmbeddingReadsTheTokensRows(CudaPrecision precision, float scale)
    {
        var ops = Gpu.Ops(precision);
        int vocab = 50, hidden = 300;
        var table = Gpu.Rounded(ops, Gpu.Random(8, vocab * hidden));
        int[] tokens = [3, 0, 49, 3, 17];
        var expected = new float[tokens.Length * hidden];
        fixed (float* t = table)
        {
            var tensor = new WeightTensor(new TensorInfo("e", "test", DType.F32, [vocab, hidden], 0, table.Length * 4L), (byte*)t);
            for (int r = 0; r < tokens.Length; r++) tensor.ReadFloats((long)tokens[r] * hidden, expected.AsSpan(r * hidden, hidden));
        }
        using var td = Gpu.Act(ops, table);
        using var ids = Gpu.I32(tokens);
        using var outd = ops.Device.Allocate(expected.Length * 4);
        ops.Embedding(ids.Pointer, td.Pointer, outd.Pointer, tokens.Length, hidden, scale);
        Assert.Equal(expected.Select(v => v * scale).ToArray(), Gpu.ReadF32(outd.Pointer, expected.Length));
    }

    /// <summary>
    /// The routed experts' ops against a host loop: squared ReLU; rows gathered for one expert; each expert's outputs
    /// added back weighted to their tokens in float32 (two experts in turn, one token routed to both); the shared
    /// expert's output added on the way back to the activation type.
    /// </summary>
    [Theory]
    [InlineData(CudaPrecision.Float32)]
    [InlineData(CudaPrecision.BFloat16)]
    public void ExpertOpsMatchAHostLoop(CudaPrecision precision)
    {
        var ops = Gpu.Ops(precision);
        int rows = 5, width = 300;
        var x = Gpu.Rounded(ops, Gpu.Random(21, rows * width, 3f));
        using var xd = Gpu.Act(ops, x);
        ops.SquaredRelu(xd.Pointer, x.Length);
        var relu2 = x.Select(v => MathF.Max(v, 0) * MathF.Max(v, 0)).ToArray();
        Close.Assert(relu2, Gpu.ReadAct(ops, xd.Pointer, x.Length), Close.For(ops, 1e-6), "squared relu");

        int[][] picks = [[4, 1, 2], [2, 0]];
        float[][] weights = [[0.5f, 0.25f, 0.125f], [0.75f, 1f]];
        var acc = new float[rows * width];
        using var accd = ops.Device.AllocateZeroed(acc.Length * 4L);
        for (int e = 0; e < picks.Length; e++)
        {
            var y = Gpu.Rounded(ops, Gpu.Random(30 + e, picks[e].Length * width));
            using var rowsd = Gpu.I32(picks[e]);
            using var wd = Gpu.F32(weights[e]);
            using var gathered = ops.Device.Allocate(picks[e].Length * width * (long)ops.ActBytes);
            ops.GatherActRows(xd.Pointer, width, rowsd.Pointer, gathered.Pointer, picks[e].Length);
            var got = Gpu.ReadAct(ops, gathered.Pointer, picks[e].Length * width);
            for (int j = 0; j < picks[e].Length; j++)
                Assert.Equal(Gpu.ReadAct(ops, xd.Pointer, x.Length).AsSpan(picks[e][j] * width, width), got.AsSpan(j * width, width));
            using var yd = Gpu.Act(ops, y);
            ops.ScatterAddWeighted(accd.Pointer, yd.Pointer, width, rowsd.Pointer, wd.Pointer, picks[e].Length);
            for (int j = 0; j < picks[e].Length; j++)
                for (int c = 0; c < width; c++) acc[picks[e][j] * width + c] += weights[e][j] * y[j * width + c];
        }
        Close.Assert(acc, Gpu.ReadF32(accd.Pointer, acc.Length), 1e-6, "weighted scatter-add");

        var shared = Gpu.Rounded(ops, Gpu.Random(40, rows * width));
        using var sd = Gpu.Act(ops, shared);
        using var outd = ops.Device.Allocate(acc.Length * (long)ops.ActBytes);
        ops.ExpertsFinish(accd.Pointer, sd.Pointer, outd.Pointer, acc.Length);
        Close.Assert(acc.Select((v, i) => v + shared[i]).ToArray(), Gpu.ReadAct(ops, outd.Pointer, acc.Length), Close.For(ops, 1e-6), "experts + shared");
        ops.ExpertsFinish(accd.Pointer, 0, outd.Pointer, acc.Length);
        Close.Assert(acc, Gpu.ReadAct(ops, outd.Pointer, acc.Length), Close.For(ops, 1e-6), "experts alone");
    }

    [Theory]
    [InlineData(CudaPrecision.Float32, 352)]  // 8 adjacent elements per thread
    [InlineData(CudaPrecision.BFloat16, 352)]
    [InlineData(CudaPrecision.BFloat16, 100)] // one per thread
    public void SwiGluAddAndBiasMatchCpu(CudaPrecision precision, int inter)
    {
        var ops = Gpu.Ops(precision);
        int rows = 7;
        var gateUp = Gpu.Rounded(ops, Gpu.Random(9, rows * 2 * inter, 4f));
        var gate = CpuSwiGlu(gateUp, rows, inter);
        using var gu = Gpu.Act(ops, gateUp);
        using var act = ops.Device.Allocate(rows * inter * ops.ActBytes);
        ops.SwiGlu(gu.Pointer, act.Pointer, rows, inter);
        var swiglu = Gpu.ReadAct(ops, act.Pointer, rows * inter);
        Close.Assert(gate, swiglu, Close.For(ops, 1e-6), "swiglu");

        var bias = Gpu.Random(11, inter);
        using var bd = Gpu.F32(bias);
        ops.AddBias(act.Pointer, bd.Pointer, rows, inter);
        var biased = Gpu.ReadAct(ops, act.Pointer, rows * inter);
        Close.Assert(swiglu.Select((v, i) => v + bias[i % inter]).ToArray(), biased, Close.For(ops, 1e-6), "bias");

        var residual = Gpu.Random(10, rows * inter); // float32 in both precisions
        using var rd = Gpu.F32(residual);
        ops.AddResidual(rd.Pointer, act.Pointer, rows * inter);
        Close.Assert(residual.Select((v, i) => v + biased[i]).ToArray(), Gpu.ReadF32(rd.Pointer, rows * inter), 1e-6, "residual add");
        ops.AddResidual(rd.Pointer, act.Pointer, rows * inter, 0.25f);
        Close.Assert(residual.Select((v, i) => v + biased[i] * 1.25f).ToArray(), Gpu.ReadF32(rd.Pointer, rows * inter), 1e-6, "scaled residual add");
    }

    [Fact]
    public void PaddingRowsAreZeroedAndLastRowsGathered()
    {
        var ops = Gpu.Ops();
        int rows = 6, width = 40, stride = 50;
        var x = Gpu.Random(12, rows * stride);
        int[] positions = [-1, -1, 0, 1, -1, 2];
        using var xd = Gpu.F32(x);
        using var pd = Gpu.I32(positions);
        ops.ZeroPaddingRows(xd.Pointer, stride, width, pd.Pointer, rows);
        var got = Gpu.ReadF32(xd.Pointer, x.Length);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < stride; c++)
                Assert.Equal(positions[r] < 0 && c < width ? 0f : x[r * stride + c], got[r * stride + c]);

        int[] pick = [5, 2];
        using var pickd = Gpu.I32(pick);
        using var outd = ops.Device.Allocate(pick.Length * stride * 4);
        ops.GatherRows(xd.Pointer, stride, pickd.Pointer, outd.Pointer, pick.Length);
        var gathered = Gpu.ReadF32(outd.Pointer, pick.Length * stride);
        for (int i = 0; i < pick.Length; i++)
            Assert.Equal(got.AsSpan(pick[i] * stride, stride).ToArray(), gathered.AsSpan(i * stride, stride).ToArray());
    }

    /// <summary>Stored bf16 and f16 weights widen exactly; float32 → bf16 rounds to nearest even like the CPU.</summary>
    [Fact]
    public void WeightConversionsMatchCpu()
    {
        var ops32 = Gpu.Ops(CudaPrecision.Float32);
        var ops16 = Gpu.Ops(CudaPrecision.BFloat16);
        var values = Gpu.Random(13, 1000, 70000f).Concat([0f, -0f, 1e-8f, 6e-5f, 65504f, float.PositiveInfinity]).ToArray();
        var bf = values.Select(BFloat16.FromSingle).ToArray();
        var half = values.Select(v => (Half)v).ToArray();
        int n = values.Length;
        using var bfd = Gpu.Device.Upload<ushort>(bf);
        using var hd = Gpu.Device.Upload<Half>(half);
        using var fd = Gpu.F32(values);
        using var outF = Gpu.Device.Allocate(n * 4);
        ops32.ConvertToF32(bfd.Pointer, DType.BF16, outF.Pointer, n);
        Assert.Equal(bf.Select(BFloat16.ToSingle).ToArray(), Gpu.ReadF32(outF.Pointer, n));
        ops32.ConvertToF32(hd.Pointer, DType.F16, outF.Pointer, n);
        Assert.Equal(half.Select(h => (float)h).ToArray(), Gpu.ReadF32(outF.Pointer, n));
        using var outB = Gpu.Device.Allocate(n * 2);
        ops16.ConvertToAct(fd.Pointer, DType.F32, outB.Pointer, n);
        Assert.Equal(bf, Gpu.Device.Download<ushort>(outB.Pointer, n));
        ops16.ActToF32(outB.Pointer, outF.Pointer, n);
        Assert.Equal(bf.Select(BFloat16.ToSingle).ToArray(), Gpu.ReadF32(outF.Pointer, n));
    }

    /// <summary>The CPU twin of SwiGLU over fused gate|up rows [rows, 2·inter]: silu(gate) · up, [rows, inter].</summary>
    internal static float[] CpuSwiGlu(float[] gateUp, int rows, int inter)
    {
        var gate = new float[rows * inter];
        var up = new float[rows * inter];
        for (int r = 0; r < rows; r++)
        {
            gateUp.AsSpan(r * 2 * inter, inter).CopyTo(gate.AsSpan(r * inter));
            gateUp.AsSpan(r * 2 * inter + inter, inter).CopyTo(up.AsSpan(r * inter));
        }
        Activations.SwiGlu(gate, up);
        return gate;
    }
}
