using Bamba.Backends.Cpu;
using Bamba.Backends.Cuda;
using Bamba.Backends.Cuda.Training;
using Bamba.Cuda.Tests.Kernels;
using Bamba.Training;

namespace Bamba.Cuda.Tests.Training;

/// <summary>Every training kernel against its CPU twin, on packed sequences where the kernel sees sequence boundaries.</summary>
public class TrainKernelTests
{
    private static readonly int[] Lengths = [5, 1, 23, 9]; // packed sequences, one of a single token

    private static CudaTrainOps Ops() => new(Gpu.Ops(CudaPrecision.Float32));

    private static int[] Offsets(int[] lengths)
    {
        var o = new int[lengths.Length + 1];
        for (int i = 0; i < lengths.Length; i++) o[i + 1] = o[i] + lengths[i];
        return o;
    }

    private static int[] Positions(int[] lengths) => lengths.SelectMany(l => Enumerable.Range(0, l)).ToArray();

    [Fact]
    public void CrossEntropyWithIgnoredLabelsAndZLossMatchesCpu()
    {
        var ops = Ops();
        int vocab = 300;
        var batch = new TrainingBatch([[3, 7, 9, 1], [4, 4, 5]], [[3, -100, 9, 1], [4, 4, 5]]);
        var logits = Gpu.Random(1, batch.Rows * vocab, 4f);
        var expected = (float[])logits.Clone();
        var sums = CausalLmLoss.ForwardBackward(expected, vocab, batch, 0.25f, 0.003f);

        using var cb = new CudaBatch(ops.Device, batch, vocab);
        using var ld = Gpu.F32(logits);
        using var ce = ops.Device.Allocate(4 * batch.Rows);
        using var zsq = ops.Device.Allocate(4 * batch.Rows);
        ops.CrossEntropy(ld.Pointer, cb.Targets, batch.Rows, vocab, 0.25f, 0.003f, ce.Pointer, zsq.Pointer);

        Close.Assert(expected, Gpu.ReadF32(ld.Pointer, logits.Length), 1e-5, "dlogits");
        Assert.Equal(sums.Targets, cb.TargetCount);
        Assert.Equal(sums.CrossEntropy, Gpu.ReadF32(ce.Pointer, batch.Rows).Sum(v => (double)v), 1e-4);
        Assert.Equal(sums.ZSquared, Gpu.ReadF32(zsq.Pointer, batch.Rows).Sum(v => (double)v), 1e-3);
    }

    [Theory]
    [InlineData(7, 64)]
    [InlineData(3, 1000)]
    public void RmsNormBackwardMatchesCpu(int rows, int width)
    {
        var ops = Ops();
        var (x, w, dy) = (Gpu.Random(2, rows * width, 3f), Gpu.Random(3, width), Gpu.Random(4, rows * width));
        var dxInit = Gpu.Random(5, rows * width);
        var dwInit = Gpu.Random(6, width);
        var (dx, dw) = ((float[])dxInit.Clone(), (float[])dwInit.Clone());
        NormsBackward.RmsNorm(x, w, 1e-5f, dy, dx, dw);

        using var xd = Gpu.F32(x);
        using var wd = Gpu.F32(w);
        using var dyd = Gpu.F32(dy);
        using var dxd = Gpu.F32(dxInit);
        using var dwd = Gpu.F32(dwInit);
        using var rstd = ops.Device.Allocate(4 * rows);
        ops.RmsNormBackward(xd.Pointer, wd.Pointer, dyd.Pointer, dxd.Pointer, rstd.Pointer, rows, width, 1e-5f);
        ops.NormWeightGrad(xd.Pointer, dyd.Pointer, rstd.Pointer, rows, width, width, dwd.Pointer);

        Close.Assert(dx, Gpu.ReadF32(dxd.Pointer, dx.Length), 1e-5, "dx");
        Close.Assert(dw, Gpu.ReadF32(dwd.Pointer, width), 1e-5, "dw");
    }

    [Theory]
    [InlineData(5, 128, 128)]
    [InlineData(4, 256, 64)]
    public void GatedRmsNormBackwardMatchesCpu(int rows, int width, int group)
    {
        var ops = Ops();
        int zStride = 2 * width + 8;
        var (y, zRows, w, dOut) = (Gpu.Random(7, rows * width, 2f), Gpu.Random(8, rows * zStride, 3f), Gpu.Random(9, width), Gpu.Random(10, rows * width));
        var z = new float[rows * width];
        for (int r = 0; r < rows; r++) zRows.AsSpan(r * zStride, width).CopyTo(z.AsSpan(r * width));
        var (dy, dz, dw) = (new float[rows * width], new float[rows * width], new float[width]);
        NormsBackward.GatedRmsNorm(y, z, w, 1e-6f, group, dOut, dy, dz, dw);

        using var yd = Gpu.F32(y);
        using var zd = Gpu.F32(zRows);
        using var wd = Gpu.F32(w);
        using var dod = Gpu.F32(dOut);
        using var dyd = ops.Device.Allocate(4L * rows * width);
        using var dzd = ops.Device.AllocateZeroed(4L * rows * zStride);
        using var gated = ops.Device.Allocate(4L * rows * width);
        using var rstd = ops.Device.Allocate(4L * rows * (width / group));
        using var dwd = ops.Device.AllocateZeroed(4L * width);
        ops.GatedRmsNormBackward(yd.Pointer, zd.Pointer, zStride, wd.Pointer, dod.Pointer, dyd.Pointer, dzd.Pointer, zStride, gated.Pointer, rstd.Pointer,
            rows, width, group, 1e-6f);
        ops.NormWeightGrad(gated.Pointer, dod.Pointer, rstd.Pointer, rows, width, group, dwd.Pointer);

        var dzRows = Gpu.ReadF32(dzd.Pointer, rows * zStride);
        var dzGpu = new float[rows * width];
        for (int r = 0; r < rows; r++) dzRows.AsSpan(r * zStride, width).CopyTo(dzGpu.AsSpan(r * width));
        Close.Assert(dy, Gpu.ReadF32(dyd.Pointer, dy.Length), 1e-5, "dy");
        Close.Assert(dz, dzGpu, 1e-5, "dz");
        Close.Assert(dw, Gpu.ReadF32(dwd.Pointer, width), 1e-5, "dw");
    }

    /// <summary>Conv forward (pre-activation and SiLU) and backward over packed sequences, against per-sequence CPU runs from a zero window.</summary>
    [Theory]
    [InlineData(4, true)]
    [InlineData(2, false)]
    public void ConvForwardAndBackwardMatchCpuPerSequence(int kernel, bool withBias)
    {
        var ops = Ops();
        int channels = 70, stride = 100, col = 13, rows = Lengths.Sum();
        var offsets = Offsets(Lengths);
        var input = Gpu.Random(11, rows * stride, 2f);
        var weight = Gpu.Random(12, channels * kernel);
        var bias = withBias ? Gpu.Random(13, channels) : [];
        var dPre = Gpu.Random(14, rows * channels);
        var (pre, dInput, dW, dB) = (new float[rows * channels], new float[rows * stride], new float[channels * kernel], new float[withBias ? channels : 0]);
        for (int s = 0; s < Lengths.Length; s++)
        {
            int r0 = offsets[s], len = Lengths[s];
            CausalConv.Forward(input.AsSpan(r0 * stride + col), stride, len, new float[(kernel - 1) * channels], weight, bias, kernel,
                pre.AsSpan(r0 * channels, len * channels));
            CausalConvBackward.Run(input.AsSpan(r0 * stride + col), stride, len, weight, kernel, dPre.AsSpan(r0 * channels, len * channels),
                dInput.AsSpan(r0 * stride + col), dW, dB);
        }
        var post = pre.Select(Activations.Silu).ToArray();

        using var id = Gpu.F32(input);
        using var wd = Gpu.F32(weight);
        using var bd = withBias ? Gpu.F32(bias) : null;
        using var pd = Gpu.I32(Positions(Lengths));
        using var dpd = Gpu.F32(dPre);
        using var pre_d = ops.Device.Allocate(4L * rows * channels);
        using var post_d = ops.Device.Allocate(4L * rows * channels);
        using var din = ops.Device.AllocateZeroed(4L * rows * stride);
        using var dwd = ops.Device.AllocateZeroed(4L * channels * kernel);
        using var dbd = ops.Device.AllocateZeroed(4L * channels);
        ulong inCol = id.Pointer + 4UL * (ulong)col;
        ops.ConvForward(inCol, stride, wd.Pointer, bd?.Pointer ?? 0, pd.Pointer, pre_d.Pointer, post_d.Pointer, rows, channels, kernel);
        ops.ConvBackwardInput(dpd.Pointer, wd.Pointer, pd.Pointer, din.Pointer + 4UL * (ulong)col, stride, rows, channels, kernel);
        ops.ConvWeightGrad(inCol, stride, dpd.Pointer, pd.Pointer, rows, channels, kernel, dwd.Pointer, withBias ? dbd.Pointer : 0);

        Close.Assert(pre, Gpu.ReadF32(pre_d.Pointer, pre.Length), 1e-5, "conv pre-activation");
        Close.Assert(post, Gpu.ReadF32(post_d.Pointer, post.Length), 1e-5, "conv output");
        Close.Assert(dInput, Gpu.ReadF32(din.Pointer, dInput.Length), 1e-5, "conv dinput");
        Close.Assert(dW, Gpu.ReadF32(dwd.Pointer, dW.Length), 1e-5, "conv dweight");
        if (withBias) Close.Assert(dB, Gpu.ReadF32(dbd.Pointer, channels), 1e-5, "conv dbias");
    }

    /// <summary>
    /// The scan's gradient over packed sequences (groups shared by heads, P not a multiple of 32) against
    /// SsdScanBackward per sequence; the kept-state interval from 1 (every state a checkpoint) through chunks that split
    /// the sequences unevenly to one longer than any sequence (no checkpoint).
    /// </summary>
    [Theory]
    [InlineData(4, 16, 2, 16, 4)]
    [InlineData(4, 16, 2, 16, 1)]
    [InlineData(3, 40, 1, 32, 7)]
    [InlineData(3, 40, 1, 32, CudaTrainOps.SsdStateInterval)]
    public void SsdBackwardMatchesCpuPerSequence(int heads, int headDim, int groups, int state, int interval)
    {
        var ops = Ops();
        var shape = new CudaOps.SsdShape(heads, headDim, groups, state, 8);
        var cpuShape = new SsdScan.Shape(heads, headDim, groups, state, 8);
        int rows = Lengths.Sum(), convDim = shape.ConvDim, inner = shape.Inner;
        var offsets = Offsets(Lengths);
        var xbc = Gpu.Random(15, rows * convDim);
        var dt = Gpu.Random(16, rows * heads).Select(v => 0.05f + 0.1f * MathF.Abs(v)).ToArray();
        var a = Gpu.Random(17, heads).Select(v => -0.5f - MathF.Abs(v)).ToArray();
        var d = Gpu.Random(18, heads);
        var dy = Gpu.Random(19, rows * inner);
        var (dxbc, ddt, dA, dD) = (new float[rows * convDim], new float[rows * heads], new float[heads], new float[heads]);
        for (int s = 0; s < Lengths.Length; s++)
            SsdScanBackward.Run(cpuShape, xbc, offsets[s] * convDim, convDim, Lengths[s], dt, offsets[s] * heads, a, d, dy, offsets[s] * inner, dxbc, ddt, dA, dD);
        var aLogInit = Gpu.Random(20, heads);
        var dALog = aLogInit.Select((v, h) => v + dA[h] * a[h]).ToArray();

        using var xd = Gpu.F32(xbc);
        using var dtd = Gpu.F32(dt);
        using var ad = Gpu.F32(a);
        using var dd = Gpu.F32(d);
        using var dyd = Gpu.F32(dy);
        using var od = Gpu.I32(offsets);
        var (checkpointSlots, chunkSlots) = CudaTrainOps.SsdBackwardStateSlots(Lengths, interval);
        using var checkpoints = ops.Device.Allocate(4L * Math.Max(1, checkpointSlots) * inner * state);
        using var chunk = ops.Device.Allocate(4L * chunkSlots * inner * state);
        using var dbh = ops.Device.Allocate(4L * rows * heads * state);
        using var dch = ops.Device.Allocate(4L * rows * heads * state);
        using var das = ops.Device.Allocate(4L * Lengths.Length * heads);
        using var dds = ops.Device.Allocate(4L * Lengths.Length * heads);
        using var dxd = ops.Device.Allocate(4L * rows * convDim);
        using var ddtd = ops.Device.Allocate(4L * rows * heads);
        using var dALogD = Gpu.F32(aLogInit);
        using var dDd = ops.Device.AllocateZeroed(4L * heads);
        ops.SsdBackward(shape, xd.Pointer, dtd.Pointer, ad.Pointer, dd.Pointer, dyd.Pointer, od.Pointer, Lengths.Length, rows,
            new(checkpoints.Pointer, chunk.Pointer, interval, dbh.Pointer, dch.Pointer, das.Pointer, dds.Pointer), dxd.Pointer, ddtd.Pointer, dALogD.Pointer, dDd.Pointer);

        Close.Assert(dxbc, Gpu.ReadF32(dxd.Pointer, dxbc.Length), 1e-5, "ssd dxbc");
        Close.Assert(ddt, Gpu.ReadF32(ddtd.Pointer, ddt.Length), 1e-5, "ssd ddt");
        Close.Assert(dALog, Gpu.ReadF32(dALogD.Pointer, heads), 1e-5, "ssd dA_log");
        Close.Assert(dD, Gpu.ReadF32(dDd.Pointer, heads), 1e-5, "ssd dD");
    }

    /// <summary>Attention forward and backward over packed sequences against AttentionKernel / AttentionBackward per sequence.</summary>
    [Theory]
    [InlineData(4, 2, 16)]
    [InlineData(2, 2, 80)]
    public void AttentionForwardAndBackwardMatchCpuPerSequence(int heads, int kvHeads, int headDim)
    {
        var ops = Ops();
        var shape = new AttentionKernel.Shape(heads, kvHeads, headDim);
        int rows = Lengths.Sum(), qw = shape.QueryWidth, kw = shape.KvWidth;
        var offsets = Offsets(Lengths);
        var (q, k, v, dOut) = (Gpu.Random(21, rows * qw), Gpu.Random(22, rows * kw), Gpu.Random(23, rows * kw), Gpu.Random(24, rows * qw));
        var (output, dq, dk, dv) = (new float[rows * qw], new float[rows * qw], new float[rows * kw], new float[rows * kw]);
        for (int s = 0; s < Lengths.Length; s++)
        {
            int r0 = offsets[s], len = Lengths[s];
            AttentionKernel.Forward(shape, q.AsSpan(r0 * qw, len * qw), len, k.AsSpan(r0 * kw, len * kw), v.AsSpan(r0 * kw, len * kw),
                new bool[len], output.AsSpan(r0 * qw, len * qw));
            AttentionBackward.Run(shape, q.AsSpan(r0 * qw, len * qw), k.AsSpan(r0 * kw, len * kw), v.AsSpan(r0 * kw, len * kw), len,
                dOut.AsSpan(r0 * qw, len * qw), dq.AsSpan(r0 * qw, len * qw), dk.AsSpan(r0 * kw, len * kw), dv.AsSpan(r0 * kw, len * kw));
        }

        var s2 = new CudaTrainOps.AttentionShape(heads, kvHeads, headDim);
        using var qd = Gpu.F32(q);
        using var kd = Gpu.F32(k);
        using var vd = Gpu.F32(v);
        using var dod = Gpu.F32(dOut);
        using var pd = Gpu.I32(Positions(Lengths));
        using var od = ops.Device.Allocate(4L * rows * qw);
        using var lse = ops.Device.Allocate(4L * rows * heads);
        using var delta = ops.Device.Allocate(4L * rows * heads);
        using var dqd = ops.Device.Allocate(4L * rows * qw);
        using var dkd = ops.Device.Allocate(4L * rows * kw);
        using var dvd = ops.Device.Allocate(4L * rows * kw);
        ops.AttentionForward(s2, qd.Pointer, kd.Pointer, vd.Pointer, pd.Pointer, od.Pointer, lse.Pointer, rows);
        ops.AttentionBackward(s2, qd.Pointer, kd.Pointer, vd.Pointer, dod.Pointer, pd.Pointer, lse.Pointer, delta.Pointer, dqd.Pointer, dkd.Pointer, dvd.Pointer, rows);

        Close.Assert(output, Gpu.ReadF32(od.Pointer, output.Length), 1e-5, "attention output");
        Close.Assert(dq, Gpu.ReadF32(dqd.Pointer, dq.Length), 1e-5, "attention dq");
        Close.Assert(dk, Gpu.ReadF32(dkd.Pointer, dk.Length), 1e-5, "attention dk");
        Close.Assert(dv, Gpu.ReadF32(dvd.Pointer, dv.Length), 1e-5, "attention dv");
    }

    [Fact]
    public void ElementwiseKernelsMatchCpu()
    {
        var ops = Ops();
        int n = 1000;
        var (gate, up, dh) = (Gpu.Random(30, n, 4f), Gpu.Random(31, n), Gpu.Random(32, n));
        using var gd = Gpu.F32(gate);
        using var ud = Gpu.F32(up);
        using var dhd = Gpu.F32(dh);
        using var hidden = ops.Device.Allocate(4L * n);
        using var dgate = ops.Device.Allocate(4L * n);
        using var dup = ops.Device.Allocate(4L * n);
        using var dpre = ops.Device.Allocate(4L * n);
        ops.SwiGlu(gd.Pointer, ud.Pointer, hidden.Pointer, n);
        ops.SwiGluBackward(dhd.Pointer, gd.Pointer, ud.Pointer, dgate.Pointer, dup.Pointer, n);
        ops.SiluBackward(dhd.Pointer, gd.Pointer, dpre.Pointer, n);
        var swiglu = (float[])gate.Clone();
        Activations.SwiGlu(swiglu, up);
        Close.Assert(swiglu, Gpu.ReadF32(hidden.Pointer, n), 1e-5, "swiglu");
        Close.Assert(gate.Select((g, i) => dh[i] * up[i] * Activations.SiluDerivative(g)).ToArray(), Gpu.ReadF32(dgate.Pointer, n), 1e-5, "swiglu dgate");
        Close.Assert(gate.Select((g, i) => dh[i] * Activations.Silu(g)).ToArray(), Gpu.ReadF32(dup.Pointer, n), 1e-5, "swiglu dup");
        Close.Assert(gate.Select((g, i) => dh[i] * Activations.SiluDerivative(g)).ToArray(), Gpu.ReadF32(dpre.Pointer, n), 1e-5, "silu backward");

        // dt: softplus + clamp backward into the dt columns, and the column sums that make dt_bias's gradient.
        int rows = 9, heads = 5, stride = 12, dtCol = 6;
        var proj = Gpu.Random(33, rows * stride, 6f);
        var bias = Gpu.Random(34, heads);
        var ddt = Gpu.Random(35, rows * heads);
        float lo = 0.01f, hi = 3f;
        var expected = new float[rows * stride];
        var biasGrad = new float[heads];
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
            {
                float raw = proj[r * stride + dtCol + h] + bias[h], soft = Activations.Softplus(raw);
                float g = soft >= lo && soft <= hi ? ddt[r * heads + h] * Activations.SoftplusDerivative(raw) : 0f;
                expected[r * stride + dtCol + h] = g;
                biasGrad[h] += g;
            }
        using var pd = Gpu.F32(proj);
        using var bd = Gpu.F32(bias);
        using var ddtd = Gpu.F32(ddt);
        using var dproj = ops.Device.AllocateZeroed(4L * rows * stride);
        using var bgd = ops.Device.AllocateZeroed(4L * heads);
        ops.DtBackward(pd.Pointer, stride, dtCol, bd.Pointer, ddtd.Pointer, dproj.Pointer, rows, heads, lo, hi);
        ops.ColumnSum(dproj.Pointer, stride, dtCol, rows, heads, bgd.Pointer);
        Close.Assert(expected, Gpu.ReadF32(dproj.Pointer, expected.Length), 1e-5, "dt backward");
        Close.Assert(biasGrad, Gpu.ReadF32(bgd.Pointer, heads), 1e-5, "dt_bias column sum");

        // The embedding's gradient with repeated tokens, A = −exp(A_log), and the bf16 cast.
        int[] tokens = [3, 1, 3, 0, 3];
        int hidden2 = 40;
        var dx = Gpu.Random(36, tokens.Length * hidden2);
        var embGrad = new float[4 * hidden2];
        for (int r = 0; r < tokens.Length; r++)
            for (int c = 0; c < hidden2; c++) embGrad[tokens[r] * hidden2 + c] += dx[r * hidden2 + c];
        using var td = Gpu.I32(tokens);
        using var dxd = Gpu.F32(dx);
        using var egd = ops.Device.AllocateZeroed(4L * embGrad.Length);
        ops.EmbeddingBackward(td.Pointer, dxd.Pointer, tokens.Length, hidden2, egd.Pointer);
        Close.Assert(embGrad, Gpu.ReadF32(egd.Pointer, embGrad.Length), 1e-6, "embedding backward");
        using var aOut = ops.Device.Allocate(4L * heads);
        ops.NegExp(bd.Pointer, aOut.Pointer, heads);
        Close.Assert(bias.Select(b => -MathF.Exp(b)).ToArray(), Gpu.ReadF32(aOut.Pointer, heads), 1e-6, "A = −exp(A_log)");
        using var bf = ops.Device.Allocate(2L * n);
        ops.ToBFloat16(gd.Pointer, bf.Pointer, n);
        Assert.Equal(gate.Select(Numerics.BFloat16.FromSingle).ToArray(), ops.Device.Download<ushort>(bf.Pointer, n));
    }

    /// <summary>The three GEMM forms of training (forward, input gradient, accumulated weight gradient), fp32 and bf16-in/fp32-out.</summary>
    [Theory]
    [InlineData(CudaPrecision.Float32, 1e-5)]
    [InlineData(CudaPrecision.BFloat16, 1e-5)]
    public void TrainingGemmsMatchCpu(CudaPrecision precision, double tol)
    {
        var ops = Ops();
        int n = 37, m = 72, k = 56;
        var round = (float[] v) => precision == CudaPrecision.Float32 ? v : v.Select(x => Numerics.BFloat16.ToSingle(Numerics.BFloat16.FromSingle(x))).ToArray();
        var (x, w, dy) = (round(Gpu.Random(40, n * k)), round(Gpu.Random(41, m * k)), round(Gpu.Random(42, n * m)));
        var dwInit = Gpu.Random(43, m * k);
        var (y, dx, dw) = (new float[n * m], new float[n * k], (float[])dwInit.Clone());
        DenseMatrix.Forward(x, n, w, m, k, [], y);
        DenseMatrix.InputGrad(dy, n, w, m, k, dx, accumulate: false);
        DenseMatrix.AccumulateWeightGrad(dy, x, n, m, k, dw);

        DeviceBuffer Operand(float[] v) => precision == CudaPrecision.Float32 ? Gpu.F32(v) : ops.Device.Upload<ushort>(v.Select(Numerics.BFloat16.FromSingle).ToArray());
        using var xd = Operand(x);
        using var wd = Operand(w);
        using var dyd = Operand(dy);
        using var yd = ops.Device.Allocate(4L * n * m);
        using var dxd = ops.Device.Allocate(4L * n * k);
        using var dwd = Gpu.F32(dwInit);
        var gemm = ops.Ops.Gemm;
        gemm.Matmul(new GemmShape(true, false, m, n, k, k, k, m, precision, true), wd.Pointer, xd.Pointer, yd.Pointer, 0f);
        gemm.Matmul(new GemmShape(false, false, k, n, m, k, m, k, precision, true), wd.Pointer, dyd.Pointer, dxd.Pointer, 0f);
        gemm.Matmul(new GemmShape(false, true, k, m, n, k, m, k, precision, true), xd.Pointer, dyd.Pointer, dwd.Pointer, 1f);

        Close.Assert(y, Gpu.ReadF32(yd.Pointer, y.Length), tol, "forward");
        Close.Assert(dx, Gpu.ReadF32(dxd.Pointer, dx.Length), tol, "input grad");
        Close.Assert(dw, Gpu.ReadF32(dwd.Pointer, dw.Length), tol, "weight grad (accumulated)");
    }
}
