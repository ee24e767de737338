using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// A packed <see cref="TrainingBatch"/> on the device: tokens, next-token targets (−100 = none), each row's position in
/// its sequence (what keeps conv, scan and attention inside a sequence) and the sequence offsets.
/// </summary>
public sealed class CudaBatch : IDisposable
{
    private readonly DeviceBuffer _tokens, _targets, _positions, _offsets;

    public CudaBatch(CudaDevice device, TrainingBatch batch, int vocab)
    {
        Batch = batch;
        var targets = new int[batch.Rows];
        var positions = new int[batch.Rows];
        for (int s = 0; s < batch.Sequences; s++)
            for (int t = 0; t < batch.Length(s); t++) positions[batch.Offset(s) + t] = t;
        for (int r = 0; r < batch.Rows; r++)
        {
            if ((uint)batch.Tokens[r] >= (uint)vocab)
                throw new BambaException($"token id {batch.Tokens[r]} is outside the vocabulary (0..{vocab - 1})");
            targets[r] = batch.Target(r);
            if (targets[r] != TrainingBatch.IgnoreIndex && (uint)targets[r] >= (uint)vocab)
                throw new BambaException($"label {targets[r]} is outside the vocabulary (0..{vocab - 1})");
            if (targets[r] == TrainingBatch.IgnoreIndex) targets[r] = -1;
        }
        TargetCount = targets.Count(t => t >= 0);
        _tokens = device.Upload<int>(batch.Tokens);
        _targets = device.Upload<int>(targets);
        _positions = device.Upload<int>(positions);
        _offsets = device.Upload<int>(batch.Offsets);
    }

    public TrainingBatch Batch { get; }
    public int Rows => Batch.Rows;
    public int Sequences => Batch.Sequences;
    public int TargetCount { get; }
    public ulong Tokens => _tokens.Pointer;
    /// <summary>int32 [rows]: the label each row predicts, −1 where none.</summary>
    public ulong Targets => _targets.Pointer;
    public ulong Positions => _positions.Pointer;
    /// <summary>int32 [sequences + 1].</summary>
    public ulong Offsets => _offsets.Pointer;

    public void Dispose()
    {
        _tokens.Dispose();
        _targets.Dispose();
        _positions.Dispose();
        _offsets.Dispose();
    }
}
