namespace Bamba.Backends.Cpu;

/// <summary>
/// Rotary position embedding in the rotate-half layout on the first <c>rotaryDim</c> channels of a head, with the
/// float32 frequencies transformers uses: <c>inv_freq[i] = 1 / theta^(2i / rotaryDim)</c>. transformers keeps
/// inv_freq as a module buffer that is cast with the weights, so a bf16 checkpoint runs with bf16-rounded frequencies;
/// <c>roundToBFloat16</c> reproduces that (the bf16 fixture's reference logits need it).
/// </summary>
public sealed class Rope
{
    private readonly float[] _invFreq;

    public Rope(double theta, int rotaryDim, bool roundToBFloat16 = false)
    {
        RotaryDim = rotaryDim;
        _invFreq = new float[rotaryDim / 2];
        for (int i = 0; i < _invFreq.Length; i++)
        {
            _invFreq[i] = 1f / MathF.Pow((float)theta, (2f * i) / rotaryDim);
            if (roundToBFloat16) _invFreq[i] = Numerics.BFloat16.ToSingle(Numerics.BFloat16.FromSingle(_invFreq[i]));
        }
    }

    public int RotaryDim { get; }

    /// <summary><c>inv_freq</c> as this rope uses it (the CUDA backend uploads the same values).</summary>
    public ReadOnlySpan<float> InverseFrequencies => _invFreq;

    /// <summary>
    /// The transpose of <see cref="Apply"/> (rotation by −angle): maps the gradient of a rotated head back to the
    /// gradient of the head before rotation.
    /// </summary>
    public void ApplyTranspose(Span<float> head, int position) => Rotate(head, position, -1f);

    /// <summary>Rotates one head vector in place for token position <paramref name="position"/>.</summary>
    public void Apply(Span<float> head, int position) => Rotate(head, position, 1f);

    private void Rotate(Span<float> head, int position, float direction)
    {
        int half = RotaryDim / 2;
        for (int i = 0; i < half; i++)
        {
            float angle = _invFreq[i] * position;
            float cos = MathF.Cos(angle), sin = direction * MathF.Sin(angle);
            float a = head[i], b = head[i + half];
            head[i] = a * cos - b * sin;
            head[i + half] = b * cos + a * sin;
        }
    }
}
