using Bamba.Generation;

namespace Bamba.Modeling;

/// <summary>
/// A segment of a <see cref="CpuSequenceState"/>: per attention layer the key and value rows of positions
/// [Start, End), per Mamba layer the conv window and SSM state at End (null for other layers, and all null once dropped).
/// </summary>
public sealed class CpuStateSegment : StateSegment
{
    private bool _hasRecurrent = true;

    internal CpuStateSegment(int start, int end, float[]?[] keys, float[]?[] values, float[]?[] conv, float[]?[] ssm)
    {
        Start = start;
        End = end;
        Keys = keys;
        Values = values;
        Conv = conv;
        Ssm = ssm;
    }

    public override int Start { get; }
    public override int End { get; }
    internal float[]?[] Keys { get; }
    internal float[]?[] Values { get; }
    internal float[]?[] Conv { get; private set; }
    internal float[]?[] Ssm { get; private set; }

    public override bool HasRecurrent => _hasRecurrent;

    public override long Bytes => 4L * (Floats(Keys) + Floats(Values) + Floats(Conv) + Floats(Ssm));

    public override void DropRecurrent()
    {
        _hasRecurrent = false;
        Conv = [];
        Ssm = [];
    }

    private static long Floats(float[]?[] arrays) => arrays.Sum(a => (long)(a?.Length ?? 0));
}
