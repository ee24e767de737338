namespace Bamba.Backends.Cpu;

/// <summary>
/// Rotary position embedding in the rotate-half layout on the first <c>rotaryDim</c> channels of a head, with the
/// float32 frequencies transformers uses: <c>inv_freq[i] = 1 / theta^(2i / rotaryDim)</c>.
/// </summary>
public sealed class Rope
{
    private readonly float[] _invFreq;

    public Rope(double theta, int rotaryDim)
    {
        RotaryDim = rotaryDim;
        _invFreq = new float[rotaryDim / 2];
        for (int i = 0; i < _invFreq.Length; i++)
            _invFreq[i] = 1f / MathF.Pow((float)theta, (2f * i) / rotaryDim);
    }

    public int RotaryDim { get; }

    /// <summary>Rotates one head vector in place for token position <paramref name="position"/>.</summary>
    public void Apply(Span<float> head, int position)
    {
        int half = RotaryDim / 2;
        for (int i = 0; i < half; i++)
        {
            float angle = _invFreq[i] * position;
            float cos = MathF.Cos(angle), sin = MathF.Sin(angle);
            float a = head[i], b = head[i + half];
            head[i] = a * cos - b * sin;
            head[i + half] = b * cos + a * sin;
        }
    }
}
