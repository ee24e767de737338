namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// The Mamba-2 mixer on the GPU (the CPU twin: Training.MambaLayerTrainer): in_proj, conv + SiLU, dt, the chunked
/// scan run per sequence from a zero state, the gated norm and out_proj, keeping what the backward needs; the backward
/// goes through the sequential scan gradient.
/// </summary>
internal sealed class CudaMambaLayerTrainer(TrainContext t, int layer)
{
    private string Name(string suffix) => $"model.layers.{layer}.mamba.{suffix}";
    private Configuration.BambaConfig C => t.Config;
    private CudaOps.SsdShape Shape => new(C.MambaNHeads, C.MambaDHead, C.MambaNGroups, C.MambaDState, C.MambaChunkSize);
    /// <summary>transformers' gated norm runs over the full d_inner whatever n_groups is (as the CPU trainer does).</summary>
    private int NormGroupSize => C.MambaIntermediate;
    private int DtColumn => C.MambaIntermediate + C.ConvDim;
    private ulong Bias(string suffix) => C.MambaProjBias ? t.Parameters.Value(Name(suffix)) : 0UL;

    /// <summary>Device buffers of one forward: input, in_proj output, conv output before and after SiLU, dt, A, scan output, normed gate.</summary>
    public sealed record Tape(ulong Input, ulong Proj, ulong XbcPre, ulong Xbc, ulong Dt, ulong A, ulong Y, ulong Normed);

    public Tape Forward(CudaBatch batch, ulong input, ulong output)
    {
        int rows = batch.Rows, inner = C.MambaIntermediate, convDim = C.ConvDim, heads = C.MambaNHeads, projDim = C.InProjDim;
        string p = $"L{layer}.mamba.";
        var tape = new Tape(input, t.Buffer(p + "proj", (long)rows * projDim), t.Buffer(p + "xbcpre", (long)rows * convDim),
            t.Buffer(p + "xbc", (long)rows * convDim), t.Buffer(p + "dt", (long)rows * heads), t.Buffer(p + "A", heads),
            t.Buffer(p + "y", (long)rows * inner), t.Buffer(p + "normed", (long)rows * inner));
        t.Gemm.Forward(input, Name("in_proj.weight"), tape.Proj, rows, projDim, C.HiddenSize);
        if (C.MambaProjBias) t.Kernels.AddBias(tape.Proj, Bias("in_proj.bias"), rows, projDim);
        ulong convBias = C.MambaConvBias ? t.Parameters.Value(Name("conv1d.bias")) : 0UL;
        t.Ops.ConvForward(TrainContext.Column(tape.Proj, inner), projDim, t.Parameters.Value(Name("conv1d.weight")), convBias, batch.Positions,
            tape.XbcPre, tape.Xbc, rows, convDim, C.MambaDConv);
        t.Kernels.SsdDt(tape.Proj, projDim, DtColumn, t.Parameters.Value(Name("dt_bias")), tape.Dt, rows, heads,
            (float)C.TimeStepLimitMin, (float)C.TimeStepLimitMax);
        t.Ops.NegExp(t.Parameters.Value(Name("A_log")), tape.A, heads);
        Scan(batch, tape);
        t.Kernels.Device.CopyDevice(tape.Normed, tape.Y, 4L * rows * inner);
        t.Kernels.GatedRmsNorm(tape.Normed, tape.Proj, projDim, t.Parameters.Value(Name("norm.weight")), rows, inner, NormGroupSize, t.Eps);
        t.Gemm.Forward(tape.Normed, Name("out_proj.weight"), output, rows, C.HiddenSize, inner);
        if (C.MambaProjBias) t.Kernels.AddBias(output, Bias("out_proj.bias"), rows, C.HiddenSize);
        return tape;
    }

    /// <summary>The chunked scan (the inference kernels) once per sequence, each from a zero state.</summary>
    private void Scan(CudaBatch batch, Tape tape)
    {
        var s = Shape;
        ulong state = t.Buffer("fwd.ssd.state", (long)s.Heads * s.StateElements);
        for (int q = 0; q < batch.Sequences; q++)
        {
            int r0 = batch.Batch.Offset(q);
            t.Kernels.Device.Clear(state, 4L * s.Heads * s.StateElements);
            t.Kernels.SsdChunked(s, TrainContext.Column(tape.Xbc, r0 * s.ConvDim), TrainContext.Column(tape.Dt, r0 * s.Heads), tape.A,
                t.Parameters.Value(Name("D")), state, TrainContext.Column(tape.Y, r0 * s.Inner), batch.Batch.Length(q));
        }
    }

    /// <summary>Accumulates parameter gradients; returns the gradient of the mixer's input.</summary>
    public ulong Backward(CudaBatch batch, Tape tape, ulong dOutput)
    {
        int rows = batch.Rows, inner = C.MambaIntermediate, convDim = C.ConvDim, heads = C.MambaNHeads, projDim = C.InProjDim, hidden = C.HiddenSize;
        var grads = t.Parameters;
        t.Gemm.WeightGrad(dOutput, tape.Normed, Name("out_proj.weight"), rows, hidden, inner);
        if (C.MambaProjBias) t.Ops.ColumnSum(dOutput, hidden, 0, rows, hidden, grads.Grad(Name("out_proj.bias")));
        ulong dNormed = t.Buffer("bwd.mamba.dnormed", (long)rows * inner);
        t.Gemm.InputGrad(dOutput, Name("out_proj.weight"), dNormed, rows, hidden, inner, accumulate: false);

        // The gated norm writes dz straight into the z columns of the in_proj gradient.
        ulong dProj = t.Buffer("bwd.mamba.dproj", (long)rows * projDim), dy = t.Buffer("bwd.mamba.dy", (long)rows * inner);
        ulong gated = t.Buffer("bwd.mamba.gated", (long)rows * inner), rstd = t.Buffer("bwd.mamba.rstd", (long)rows * (inner / NormGroupSize));
        t.Ops.GatedRmsNormBackward(tape.Y, tape.Proj, projDim, grads.Value(Name("norm.weight")), dNormed, dy, dProj, projDim, gated, rstd,
            rows, inner, NormGroupSize, t.Eps);
        t.Ops.NormWeightGrad(gated, dNormed, rstd, rows, inner, NormGroupSize, grads.Grad(Name("norm.weight")));

        ulong dXbc = t.Buffer("bwd.mamba.dxbc", (long)rows * convDim), dDt = t.Buffer("bwd.mamba.ddt", (long)rows * heads);
        var s = Shape;
        var scratch = new CudaTrainOps.SsdBackwardScratch(t.Buffer("bwd.ssd.states", (long)rows * inner * s.StateSize),
            t.Buffer("bwd.ssd.db", (long)rows * heads * s.StateSize), t.Buffer("bwd.ssd.dc", (long)rows * heads * s.StateSize),
            t.Buffer("bwd.ssd.da", (long)batch.Sequences * heads), t.Buffer("bwd.ssd.dd", (long)batch.Sequences * heads));
        t.Ops.SsdBackward(s, tape.Xbc, tape.Dt, tape.A, grads.Value(Name("D")), dy, batch.Offsets, batch.Sequences, rows, scratch,
            dXbc, dDt, grads.Grad(Name("A_log")), grads.Grad(Name("D")));

        t.Ops.DtBackward(tape.Proj, projDim, DtColumn, grads.Value(Name("dt_bias")), dDt, dProj, rows, heads,
            (float)C.TimeStepLimitMin, (float)C.TimeStepLimitMax);
        t.Ops.ColumnSum(dProj, projDim, DtColumn, rows, heads, grads.Grad(Name("dt_bias")));
        t.Ops.SiluBackward(dXbc, tape.XbcPre, dXbc, (long)rows * convDim);
        ulong convInput = TrainContext.Column(tape.Proj, inner);
        t.Ops.ConvBackwardInput(dXbc, grads.Value(Name("conv1d.weight")), batch.Positions, TrainContext.Column(dProj, inner), projDim, rows, convDim, C.MambaDConv);
        t.Ops.ConvWeightGrad(convInput, projDim, dXbc, batch.Positions, rows, convDim, C.MambaDConv, grads.Grad(Name("conv1d.weight")),
            C.MambaConvBias ? grads.Grad(Name("conv1d.bias")) : 0UL);

        t.Gemm.WeightGrad(dProj, tape.Input, Name("in_proj.weight"), rows, projDim, hidden);
        if (C.MambaProjBias) t.Ops.ColumnSum(dProj, projDim, 0, rows, projDim, grads.Grad(Name("in_proj.bias")));
        ulong dInput = t.Buffer("bwd.mixer.dinput", (long)rows * hidden);
        t.Gemm.InputGrad(dProj, Name("in_proj.weight"), dInput, rows, projDim, hidden, accumulate: false);
        return dInput;
    }
}
