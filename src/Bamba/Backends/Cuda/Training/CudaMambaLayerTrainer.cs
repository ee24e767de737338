using Bamba.Architectures;
using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// The Mamba-2 mixer on the GPU (the CPU twin: Training.MambaLayerTrainer): in_proj, conv + SiLU, dt, the chunked
/// scan run per sequence from a zero state, the gated norm and out_proj, keeping what the backward needs; the backward
/// goes through the sequential scan gradient.
/// </summary>
internal sealed class CudaMambaLayerTrainer(TrainContext t, int layer) : ISublayer<CudaBatch, ulong>
{
    private Configuration.BambaConfig C => t.Config;
    private CudaOps.SsdShape Shape => new(C.MambaNHeads, C.MambaDHead, C.MambaNGroups, C.MambaDState, C.MambaChunkSize);
    /// <summary>The gated norm's group: the full d_inner for Bamba and Granite, d_inner / n_groups for Nemotron-H.</summary>
    private int NormGroupSize => C.MambaNormGroupSize;
    private int DtColumn => C.MambaIntermediate + C.ConvDim;
    private ulong Value(TensorRole role) => t.Value(role, layer);
    private ulong Grad(TensorRole role) => t.Grad(role, layer);

    /// <summary>Device buffers of one forward: input, in_proj output, conv output before and after SiLU, dt, A, scan output, normed gate.</summary>
    public sealed record Tape(ulong Input, ulong Proj, ulong XbcPre, ulong Xbc, ulong Dt, ulong A, ulong Y, ulong Normed);

    object ISublayer<CudaBatch, ulong>.Forward(CudaBatch batch, ulong input, ulong output) => Forward(batch, input, output);
    ulong ISublayer<CudaBatch, ulong>.Backward(CudaBatch batch, object tape, ulong dOutput) => Backward(batch, (Tape)tape, dOutput);

    public Tape Forward(CudaBatch batch, ulong input, ulong output)
    {
        int rows = batch.Rows, inner = C.MambaIntermediate, convDim = C.ConvDim, heads = C.MambaNHeads, projDim = C.InProjDim;
        string p = t.TapeName(layer, "mamba.");
        var tape = new Tape(input, t.Buffer(p + "proj", (long)rows * projDim), t.Buffer(p + "xbcpre", (long)rows * convDim),
            t.Buffer(p + "xbc", (long)rows * convDim), t.Buffer(p + "dt", (long)rows * heads), t.Buffer(p + "A", heads),
            t.Buffer(p + "y", (long)rows * inner), t.Buffer(p + "normed", (long)rows * inner));
        t.Gemm.Forward(input, t.Weight(TensorRole.MambaInProj, layer), tape.Proj, rows, projDim, C.HiddenSize);
        if (Value(TensorRole.MambaInProjBias) is not 0 and var inBias) t.Kernels.AddBias(tape.Proj, inBias, rows, projDim);
        t.Ops.ConvForward(TrainContext.Column(tape.Proj, inner), projDim, Value(TensorRole.MambaConv), Value(TensorRole.MambaConvBias), batch.Positions,
            tape.XbcPre, tape.Xbc, rows, convDim, C.MambaDConv);
        t.Kernels.SsdDt(tape.Proj, projDim, DtColumn, Value(TensorRole.MambaDtBias), tape.Dt, rows, heads,
            (float)C.TimeStepLimitMin, (float)C.TimeStepLimitMax);
        t.Ops.NegExp(Value(TensorRole.MambaALog), tape.A, heads);
        Scan(batch, tape);
        t.Kernels.Device.CopyDevice(tape.Normed, tape.Y, 4L * rows * inner);
        t.Kernels.GatedRmsNorm(tape.Normed, tape.Proj, projDim, Value(TensorRole.MambaNorm), rows, inner, NormGroupSize, t.Eps);
        t.Gemm.Forward(tape.Normed, t.Weight(TensorRole.MambaOutProj, layer), output, rows, C.HiddenSize, inner);
        if (Value(TensorRole.MambaOutProjBias) is not 0 and var outBias) t.Kernels.AddBias(output, outBias, rows, C.HiddenSize);
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
                Value(TensorRole.MambaD), state, TrainContext.Column(tape.Y, r0 * s.Inner), batch.Batch.Length(q));
        }
    }

    /// <summary>Accumulates parameter gradients; returns the gradient of the mixer's input.</summary>
    public ulong Backward(CudaBatch batch, Tape tape, ulong dOutput)
    {
        int rows = batch.Rows, inner = C.MambaIntermediate, convDim = C.ConvDim, heads = C.MambaNHeads, projDim = C.InProjDim, hidden = C.HiddenSize;
        var outProj = t.Weight(TensorRole.MambaOutProj, layer);
        t.Gemm.WeightGrad(dOutput, tape.Normed, outProj, rows, hidden, inner);
        if (Grad(TensorRole.MambaOutProjBias) is not 0 and var outBias) t.Ops.ColumnSum(dOutput, hidden, 0, rows, hidden, outBias);
        ulong dNormed = t.Buffer("bwd.mamba.dnormed", (long)rows * inner);
        t.Gemm.InputGrad(dOutput, outProj, dNormed, rows, hidden, inner, accumulate: false);

        // The gated norm writes dz straight into the z columns of the in_proj gradient.
        ulong dProj = t.Buffer("bwd.mamba.dproj", (long)rows * projDim), dy = t.Buffer("bwd.mamba.dy", (long)rows * inner);
        ulong gated = t.Buffer("bwd.mamba.gated", (long)rows * inner), rstd = t.Buffer("bwd.mamba.rstd", (long)rows * (inner / NormGroupSize));
        t.Ops.GatedRmsNormBackward(tape.Y, tape.Proj, projDim, Value(TensorRole.MambaNorm), dNormed, dy, dProj, projDim, gated, rstd,
            rows, inner, NormGroupSize, t.Eps);
        t.Ops.NormWeightGrad(gated, dNormed, rstd, rows, inner, NormGroupSize, Grad(TensorRole.MambaNorm));

        ulong dXbc = t.Buffer("bwd.mamba.dxbc", (long)rows * convDim), dDt = t.Buffer("bwd.mamba.ddt", (long)rows * heads);
        var s = Shape;
        const int interval = CudaTrainOps.SsdStateInterval;
        var (checkpoints, slots) = CudaTrainOps.SsdBackwardStateSlots(Enumerable.Range(0, batch.Sequences).Select(batch.Batch.Length), interval);
        long slotFloats = (long)inner * s.StateSize;
        var scratch = new CudaTrainOps.SsdBackwardScratch(t.Buffer("bwd.ssd.checkpoints", checkpoints * slotFloats),
            t.Buffer("bwd.ssd.chunk", slots * slotFloats), interval,
            t.Buffer("bwd.ssd.db", (long)rows * heads * s.StateSize), t.Buffer("bwd.ssd.dc", (long)rows * heads * s.StateSize),
            t.Buffer("bwd.ssd.da", (long)batch.Sequences * heads), t.Buffer("bwd.ssd.dd", (long)batch.Sequences * heads));
        t.Ops.SsdBackward(s, tape.Xbc, tape.Dt, tape.A, Value(TensorRole.MambaD), dy, batch.Offsets, batch.Sequences, rows, scratch,
            dXbc, dDt, Grad(TensorRole.MambaALog), Grad(TensorRole.MambaD));

        t.Ops.DtBackward(tape.Proj, projDim, DtColumn, Value(TensorRole.MambaDtBias), dDt, dProj, rows, heads,
            (float)C.TimeStepLimitMin, (float)C.TimeStepLimitMax);
        t.Ops.ColumnSum(dProj, projDim, DtColumn, rows, heads, Grad(TensorRole.MambaDtBias));
        t.Ops.SiluBackward(dXbc, tape.XbcPre, dXbc, (long)rows * convDim);
        ulong convInput = TrainContext.Column(tape.Proj, inner);
        t.Ops.ConvBackwardInput(dXbc, Value(TensorRole.MambaConv), batch.Positions, TrainContext.Column(dProj, inner), projDim, rows, convDim, C.MambaDConv);
        t.Ops.ConvWeightGrad(convInput, projDim, dXbc, batch.Positions, rows, convDim, C.MambaDConv, Grad(TensorRole.MambaConv),
            Grad(TensorRole.MambaConvBias));

        var inProj = t.Weight(TensorRole.MambaInProj, layer);
        t.Gemm.WeightGrad(dProj, tape.Input, inProj, rows, projDim, hidden);
        if (Grad(TensorRole.MambaInProjBias) is not 0 and var inBias) t.Ops.ColumnSum(dProj, projDim, 0, rows, projDim, inBias);
        ulong dInput = t.Buffer("bwd.mixer.dinput", (long)rows * hidden);
        t.Gemm.InputGrad(dProj, inProj, dInput, rows, projDim, hidden, accumulate: false);
        return dInput;
    }
}
