using Bamba.Architectures;
using Bamba.Backends.Cpu;
using Bamba.Configuration;
using Bamba.Training.Lora;

namespace Bamba.Training;

/// <summary>
/// The Mamba-2 mixer for training: the forward of <see cref="Modeling.MambaMixer"/> (same ops, each sequence from a
/// zero conv window and state) keeping what the backward needs, and the backward itself.
/// </summary>
internal sealed class MambaLayerTrainer(BambaConfig c, ParameterSet set, int layer, LoraSet? lora) : ISublayer<TrainingBatch, float[]>
{
    private readonly Parameter _inProj = set[TensorRole.MambaInProj, layer];
    private readonly Parameter? _inBias = set.Find(TensorRole.MambaInProjBias, layer);
    private readonly Parameter _conv = set[TensorRole.MambaConv, layer];
    private readonly Parameter? _convBias = set.Find(TensorRole.MambaConvBias, layer);
    private readonly Parameter _dtBias = set[TensorRole.MambaDtBias, layer];
    private readonly Parameter _aLog = set[TensorRole.MambaALog, layer];
    private readonly Parameter _d = set[TensorRole.MambaD, layer];
    private readonly Parameter _norm = set[TensorRole.MambaNorm, layer];
    private readonly Parameter _outProj = set[TensorRole.MambaOutProj, layer];
    private readonly Parameter? _outBias = set.Find(TensorRole.MambaOutProjBias, layer);
    private readonly LoraPath? _inLora = lora?.PathFor(set[TensorRole.MambaInProj, layer]), _outLora = lora?.PathFor(set[TensorRole.MambaOutProj, layer]);

    /// <summary>Activations of one forward: the input, in_proj output, conv output before and after SiLU, dt, the scan output and the normed gate; the adapters' (if any).</summary>
    public sealed record Tape(float[] Input, float[] Proj, float[] XbcPre, float[] Xbc, float[] Dt, float[] Y, float[] Normed,
        LoraPath.Tape? InLora, LoraPath.Tape? OutLora);

    object ISublayer<TrainingBatch, float[]>.Forward(TrainingBatch batch, float[] input, float[] output) => Forward(batch, input, output);
    float[] ISublayer<TrainingBatch, float[]>.Backward(TrainingBatch batch, object tape, float[] dOutput) => Backward(batch, (Tape)tape, dOutput);

    /// <summary>The gated norm's group: the full d_inner for Bamba and Granite, d_inner / n_groups for Nemotron-H.</summary>
    private int NormGroupSize => c.MambaNormGroupSize;

    private SsdScan.Shape Shape => new(c.MambaNHeads, c.MambaDHead, c.MambaNGroups, c.MambaDState, c.MambaChunkSize);
    private float[] A => _aLog.Value.Select(v => -MathF.Exp(v)).ToArray();

    public Tape Forward(TrainingBatch batch, float[] input, float[] output)
    {
        int rows = batch.Rows, inner = c.MambaIntermediate, convDim = c.ConvDim, heads = c.MambaNHeads, projDim = c.InProjDim;
        var proj = new float[rows * projDim];
        DenseMatrix.Forward(input, rows, _inProj.Value, projDim, c.HiddenSize, _inBias?.Value ?? [], proj);
        var inLora = _inLora?.AddForward(input, rows, proj);
        var xbcPre = new float[rows * convDim];
        var dt = new float[rows * heads];
        float lo = (float)c.TimeStepLimitMin, hi = (float)c.TimeStepLimitMax;
        for (int s = 0; s < batch.Sequences; s++)
        {
            int r0 = batch.Offset(s), len = batch.Length(s);
            var window = new float[(c.MambaDConv - 1) * convDim];
            CausalConv.Forward(proj.AsSpan(r0 * projDim + inner), projDim, len, window, _conv.Value, _convBias?.Value ?? [],
                c.MambaDConv, xbcPre.AsSpan(r0 * convDim, len * convDim));
        }
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
                dt[r * heads + h] = Math.Clamp(Activations.Softplus(DtInput(proj, r, h)), lo, hi);
        var xbc = (float[])xbcPre.Clone();
        Activations.SiluInPlace(xbc);
        var y = new float[rows * inner];
        var a = A;
        for (int s = 0; s < batch.Sequences; s++)
        {
            int r0 = batch.Offset(s);
            var state = new float[heads * c.MambaDHead * c.MambaDState];
            SsdScan.Run(Shape, xbc, r0 * convDim, convDim, batch.Length(s), dt, r0 * heads, a, _d.Value, state, y, r0 * inner);
        }
        var normed = (float[])y.Clone();
        Norms.GatedRmsNorm(normed, Z(proj, rows), _norm.Value, (float)c.RmsNormEps, NormGroupSize);
        DenseMatrix.Forward(normed, rows, _outProj.Value, c.HiddenSize, inner, _outBias?.Value ?? [], output);
        var outLora = _outLora?.AddForward(normed, rows, output);
        return new Tape(input, proj, xbcPre, xbc, dt, y, normed, inLora, outLora);
    }

    private float DtInput(float[] proj, int r, int h) => proj[r * c.InProjDim + c.MambaIntermediate + c.ConvDim + h] + _dtBias.Value[h];

    private float[] Z(float[] proj, int rows)
    {
        int inner = c.MambaIntermediate;
        var z = new float[rows * inner];
        for (int r = 0; r < rows; r++) proj.AsSpan(r * c.InProjDim, inner).CopyTo(z.AsSpan(r * inner));
        return z;
    }

    /// <summary>Accumulates parameter gradients and returns the gradient of the mixer's input.</summary>
    public float[] Backward(TrainingBatch batch, Tape tape, float[] dOutput)
    {
        int rows = batch.Rows, inner = c.MambaIntermediate, convDim = c.ConvDim, heads = c.MambaNHeads, projDim = c.InProjDim, hidden = c.HiddenSize;
        WeightGrad.Accumulate(_outProj, dOutput, tape.Normed, rows, hidden, inner);
        if (_outBias is not null) DenseMatrix.AccumulateBiasGrad(dOutput, rows, _outBias.Grad);
        var dNormed = new float[rows * inner];
        DenseMatrix.InputGrad(dOutput, rows, _outProj.Value, hidden, inner, dNormed, accumulate: false);
        _outLora?.Backward(tape.OutLora!, dOutput, rows, dNormed);

        var dy = new float[rows * inner];
        var dz = new float[rows * inner];
        NormsBackward.GatedRmsNorm(tape.Y, Z(tape.Proj, rows), _norm.Value, (float)c.RmsNormEps, NormGroupSize,
            dNormed, dy, dz, _norm.Grad);

        var dXbc = new float[rows * convDim];
        var dDt = new float[rows * heads];
        var dA = new float[heads];
        var a = A;
        for (int s = 0; s < batch.Sequences; s++)
        {
            int r0 = batch.Offset(s);
            SsdScanBackward.Run(Shape, tape.Xbc, r0 * convDim, convDim, batch.Length(s), tape.Dt, r0 * heads, a, _d.Value,
                dy, r0 * inner, dXbc, dDt, dA, _d.Grad);
        }
        for (int h = 0; h < heads; h++) _aLog.Grad[h] += dA[h] * a[h]; // A = −exp(A_log): dA/dA_log = A

        var dProj = new float[rows * projDim];
        float lo = (float)c.TimeStepLimitMin, hi = (float)c.TimeStepLimitMax;
        for (int r = 0; r < rows; r++)
        {
            dz.AsSpan(r * inner, inner).CopyTo(dProj.AsSpan(r * projDim));
            for (int h = 0; h < heads; h++)
            {
                float raw = DtInput(tape.Proj, r, h), soft = Activations.Softplus(raw);
                // clamp passes the gradient only inside [lo, hi], as torch.clamp's backward does
                float g = soft >= lo && soft <= hi ? dDt[r * heads + h] * Activations.SoftplusDerivative(raw) : 0f;
                dProj[r * projDim + inner + convDim + h] = g;
                _dtBias.Grad[h] += g;
            }
        }
        for (int i = 0; i < dXbc.Length; i++) dXbc[i] *= Activations.SiluDerivative(tape.XbcPre[i]);
        for (int s = 0; s < batch.Sequences; s++)
        {
            int r0 = batch.Offset(s), len = batch.Length(s);
            CausalConvBackward.Run(tape.Proj.AsSpan(r0 * projDim + inner), projDim, len, _conv.Value, c.MambaDConv,
                dXbc.AsSpan(r0 * convDim, len * convDim), dProj.AsSpan(r0 * projDim + inner), _conv.Grad, _convBias is null ? [] : _convBias.Grad);
        }

        WeightGrad.Accumulate(_inProj, dProj, tape.Input, rows, projDim, hidden);
        if (_inBias is not null) DenseMatrix.AccumulateBiasGrad(dProj, rows, _inBias.Grad);
        var dInput = new float[rows * hidden];
        DenseMatrix.InputGrad(dProj, rows, _inProj.Value, projDim, hidden, dInput, accumulate: false);
        _inLora?.Backward(tape.InLora!, dProj, rows, dInput);
        return dInput;
    }
}
