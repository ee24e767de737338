using Bamba.Generation;

namespace Bamba.Modeling;

/// <summary>
/// The tokens of one forward call packed into rows: run i occupies rows [Offset(i), Offset(i) + Length(i)).
/// Ops that mix positions (conv, scan, attention) work per run; everything else works on all rows at once.
/// </summary>
internal sealed class TokenBatch
{
    public TokenBatch(IReadOnlyList<CpuSequenceState> states, IReadOnlyList<SequenceInput> inputs, int adapters = 0)
    {
        if (states.Count != inputs.Count) throw new ArgumentException("one token run per sequence state is needed");
        States = states;
        Offsets = new int[inputs.Count + 1];
        for (int i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].Length == 0) throw new ArgumentException($"token run {i} is empty");
            if (!inputs[i].Padding.IsEmpty && inputs[i].Padding.Length != inputs[i].Length)
                throw new ArgumentException($"token run {i}: padding flags and tokens differ in length");
            Offsets[i + 1] = Offsets[i] + inputs[i].Length;
        }
        Tokens = new int[Rows];
        Padding = new bool[Rows];
        Positions = new int[Rows];
        for (int i = 0; i < inputs.Count; i++)
        {
            inputs[i].Tokens.Span.CopyTo(Tokens.AsSpan(Offsets[i]));
            if (!inputs[i].Padding.IsEmpty) inputs[i].Padding.Span.CopyTo(Padding.AsSpan(Offsets[i]));
            states[i].Advance(Padding.AsSpan(Offsets[i], inputs[i].Length), inputs[i].Length).CopyTo(Positions, Offsets[i]);
        }
        HasPadding = Array.IndexOf(Padding, true) >= 0;
        Adapters = SpansOf(states, adapters);
    }

    /// <summary>The rows of the runs whose sequences picked an adapter, neighbours with the same one merged.</summary>
    private List<AdapterSpan> SpansOf(IReadOnlyList<CpuSequenceState> states, int adapters)
    {
        var spans = new List<AdapterSpan>();
        for (int i = 0; i < states.Count; i++)
        {
            int adapter = states[i].Adapter;
            if (adapter < 0 || adapter > adapters) throw new ArgumentException($"sequence {i} picks adapter {adapter}; the model has {adapters}");
            if (adapter == 0) continue;
            if (spans.Count > 0 && spans[^1] is var last && last.Adapter == adapter && last.Start + last.Count == Offsets[i])
                spans[^1] = last with { Count = last.Count + Length(i) };
            else spans.Add(new AdapterSpan(Offsets[i], Length(i), adapter));
        }
        return spans;
    }

    public IReadOnlyList<CpuSequenceState> States { get; }
    public int[] Offsets { get; }
    public int[] Tokens { get; }
    public bool[] Padding { get; }
    /// <summary>RoPE position of each row (−1 for padding).</summary>
    public int[] Positions { get; }
    public bool HasPadding { get; }
    /// <summary>Which rows run with which picked LoRA adapter (rows outside every span run with none).</summary>
    public IReadOnlyList<AdapterSpan> Adapters { get; }
    public int Runs => States.Count;
    public int Rows => Offsets[^1];
    public int Offset(int run) => Offsets[run];
    public int Length(int run) => Offsets[run + 1] - Offsets[run];

    /// <summary>Zeroes the rows of padding tokens ([Rows, width]), as transformers does before Mamba's projections and scan.</summary>
    public void ZeroPadding(Span<float> rows, int width, int stride)
    {
        if (!HasPadding) return;
        for (int r = 0; r < Rows; r++)
            if (Padding[r]) rows.Slice(r * stride, width).Clear();
    }
}
