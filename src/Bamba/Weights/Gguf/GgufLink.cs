namespace Bamba.Weights.Gguf;

/// <summary>How a GGUF tensor is made from the HF tensor(s) it stands for.</summary>
public enum LinkKind
{
    /// <summary>The same values, maybe another shape (conv weight [C,1,K] ↔ [C,K]; D [H] ↔ [H,1]; norm [D] ↔ [G, D/G]).</summary>
    View,
    /// <summary><c>ssm_a = −exp(A_log)</c>, stored [H, 1].</summary>
    NegExp,
    /// <summary>Rows of one HF tensor picked by <see cref="GgufLink.HfRow"/>: Q/K rows re-ordered for GGML's RoPE, or
    /// the gate or up half of a fused gate|up matrix.</summary>
    Rows,
    /// <summary>One HF matrix per expert stacked into an [E, R, C] tensor (Nemotron-H's experts).</summary>
    Stack,
}

/// <summary>
/// One GGUF tensor of a model: its llama.cpp name, its shape (row-major, as safetensors has it), and where its rows
/// come from among the HF tensors <see cref="Hf"/>.
/// </summary>
public sealed record GgufLink(string Gguf, long[] Shape, LinkKind Kind, string[] Hf, Func<long, long>? HfRow = null)
{
    /// <summary>Rows of the GGUF tensor: everything but its last axis.</summary>
    public long RowCount => Shape[..^1].Aggregate(1L, (a, b) => a * b);

    /// <summary>The HF tensor (index into <see cref="Hf"/>) and row that GGUF row <paramref name="row"/> holds.</summary>
    public (int Source, long Row) SourceRow(long row) => Kind switch
    {
        LinkKind.Rows => (0, HfRow!(row)),
        LinkKind.Stack => ((int)(row / Shape[^2]), row % Shape[^2]),
        _ => (0, row),
    };

    public static GgufLink View(string gguf, string hf, long[] shape) => new(gguf, shape, LinkKind.View, [hf]);

    /// <summary>Half <paramref name="half"/> (0 gate, 1 up) of each [2I, C] block of a fused [.., 2I, C] tensor.</summary>
    public static GgufLink Half(string gguf, string hf, long[] fusedShape, int half)
    {
        long inter = fusedShape[^2] / 2;
        long[] shape = [.. fusedShape[..^2], inter, fusedShape[^1]];
        return new(gguf, shape, LinkKind.Rows, [hf], r => r / inter * 2 * inter + half * inter + r % inter);
    }
}
