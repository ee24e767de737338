using Bamba.Architectures;
using Bamba.Backends.Cpu;
using Bamba.Configuration;
using Bamba.Training.Lora;

namespace Bamba.Training;

/// <summary>
/// Grouped-query attention with partial RoPE for training: the forward of <see cref="Modeling.AttentionMixer"/>
/// (each sequence attends only to itself, positions from 0) keeping q, k, v and the attended values, and its backward.
/// </summary>
internal sealed class AttentionLayerTrainer(BambaConfig c, ParameterSet set, int layer, Rope rope, LoraSet? lora) : ISublayer<TrainingBatch, float[]>
{
    private readonly Parameter _q = set[TensorRole.AttentionQ, layer];
    private readonly Parameter _k = set[TensorRole.AttentionK, layer];
    private readonly Parameter _v = set[TensorRole.AttentionV, layer];
    private readonly Parameter _o = set[TensorRole.AttentionO, layer];
    private readonly LoraPath? _qLora = lora?.PathFor(set[TensorRole.AttentionQ, layer]), _kLora = lora?.PathFor(set[TensorRole.AttentionK, layer]),
        _vLora = lora?.PathFor(set[TensorRole.AttentionV, layer]), _oLora = lora?.PathFor(set[TensorRole.AttentionO, layer]);
    private readonly AttentionKernel.Shape _shape = Modeling.AttentionMixer.Shape(c);

    public sealed record Tape(float[] Input, float[] Q, float[] K, float[] V, float[] Attended,
        LoraPath.Tape? QLora, LoraPath.Tape? KLora, LoraPath.Tape? VLora, LoraPath.Tape? OLora);

    object ISublayer<TrainingBatch, float[]>.Forward(TrainingBatch batch, float[] input, float[] output) => Forward(batch, input, output);
    float[] ISublayer<TrainingBatch, float[]>.Backward(TrainingBatch batch, object tape, float[] dOutput) => Backward(batch, (Tape)tape, dOutput);

    public Tape Forward(TrainingBatch batch, float[] input, float[] output)
    {
        int rows = batch.Rows, h = c.HiddenSize, qw = _shape.QueryWidth, kw = _shape.KvWidth;
        var (q, k, v) = (new float[rows * qw], new float[rows * kw], new float[rows * kw]);
        DenseMatrix.Forward(input, rows, _q.Value, qw, h, [], q);
        DenseMatrix.Forward(input, rows, _k.Value, kw, h, [], k);
        DenseMatrix.Forward(input, rows, _v.Value, kw, h, [], v);
        var (qLora, kLora, vLora) = (_qLora?.AddForward(input, rows, q), _kLora?.AddForward(input, rows, k), _vLora?.AddForward(input, rows, v));
        Rotate(batch, q, c.NumAttentionHeads, transpose: false);
        Rotate(batch, k, c.NumKeyValueHeads, transpose: false);
        var attended = new float[rows * qw];
        Parallel.For(0, batch.Sequences, s =>
        {
            int r0 = batch.Offset(s), len = batch.Length(s);
            AttentionKernel.Forward(_shape, q.AsSpan(r0 * qw, len * qw), len, k.AsSpan(r0 * kw, len * kw), v.AsSpan(r0 * kw, len * kw),
                new bool[len], attended.AsSpan(r0 * qw, len * qw));
        });
        DenseMatrix.Forward(attended, rows, _o.Value, h, qw, [], output);
        var oLora = _oLora?.AddForward(attended, rows, output);
        return new Tape(input, q, k, v, attended, qLora, kLora, vLora, oLora);
    }

    public float[] Backward(TrainingBatch batch, Tape tape, float[] dOutput)
    {
        int rows = batch.Rows, h = c.HiddenSize, qw = _shape.QueryWidth, kw = _shape.KvWidth;
        WeightGrad.Accumulate(_o, dOutput, tape.Attended, rows, h, qw);
        var dAttended = new float[rows * qw];
        DenseMatrix.InputGrad(dOutput, rows, _o.Value, h, qw, dAttended, accumulate: false);
        _oLora?.Backward(tape.OLora!, dOutput, rows, dAttended);
        var (dq, dk, dv) = (new float[rows * qw], new float[rows * kw], new float[rows * kw]);
        for (int s = 0; s < batch.Sequences; s++)
        {
            int r0 = batch.Offset(s), len = batch.Length(s);
            AttentionBackward.Run(_shape, tape.Q.AsSpan(r0 * qw, len * qw), tape.K.AsSpan(r0 * kw, len * kw), tape.V.AsSpan(r0 * kw, len * kw),
                len, dAttended.AsSpan(r0 * qw, len * qw), dq.AsSpan(r0 * qw, len * qw), dk.AsSpan(r0 * kw, len * kw), dv.AsSpan(r0 * kw, len * kw));
        }
        Rotate(batch, dq, c.NumAttentionHeads, transpose: true);
        Rotate(batch, dk, c.NumKeyValueHeads, transpose: true);
        WeightGrad.Accumulate(_q, dq, tape.Input, rows, qw, h);
        WeightGrad.Accumulate(_k, dk, tape.Input, rows, kw, h);
        WeightGrad.Accumulate(_v, dv, tape.Input, rows, kw, h);
        var dInput = new float[rows * h];
        DenseMatrix.InputGrad(dq, rows, _q.Value, qw, h, dInput, accumulate: false);
        DenseMatrix.InputGrad(dk, rows, _k.Value, kw, h, dInput, accumulate: true);
        DenseMatrix.InputGrad(dv, rows, _v.Value, kw, h, dInput, accumulate: true);
        _qLora?.Backward(tape.QLora!, dq, rows, dInput);
        _kLora?.Backward(tape.KLora!, dk, rows, dInput);
        _vLora?.Backward(tape.VLora!, dv, rows, dInput);
        return dInput;
    }

    private void Rotate(TrainingBatch batch, float[] x, int heads, bool transpose)
    {
        if (!c.UseRope) return;
        int hd = c.HeadDim;
        for (int s = 0; s < batch.Sequences; s++)
            for (int t = 0; t < batch.Length(s); t++)
            {
                int r = batch.Offset(s) + t;
                for (int head = 0; head < heads; head++)
                {
                    var span = x.AsSpan((r * heads + head) * hd, hd);
                    if (transpose) rope.ApplyTranspose(span, t); else rope.Apply(span, t);
                }
            }
    }
}
