using Bamba.Backends.Cuda;
using Bamba.Generation;
using Bamba.Generation.Constraints;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>
/// The grammar mask on the device (mask_logits, then sample_tokens) against the host's masked choice: the same row
/// through <see cref="TokenConstraint.Apply"/> and then <see cref="Sampler.ArgMax"/> or the sampler's CPU twin. Masks
/// come from a real grammar at several states, and from random dense bits; unconstrained rows must stay untouched.
/// </summary>
public class MaskedSamplingTests
{
    private const int Vocab = 50257; // not a multiple of 32 or 64: the last word's bits past the vocabulary are ignored
    private const string Schema = """{"type":"object","properties":{"ok":{"type":"boolean"},"name":{"type":"string"}},"required":["ok"]}""";

    [Theory]
    [InlineData(0f, 0, 1f)]
    [InlineData(1.0f, 0, 1.0f)]
    [InlineData(0.7f, 50, 1.0f)]
    [InlineData(1.3f, 0, 0.9f)]
    [InlineData(0.8f, 40, 0.5f)]
    public void DeviceMaskedChoiceEqualsTheHostMaskedChoice(float temperature, int topK, float topP)
    {
        var ops = Gpu.Ops();
        var masks = Masks();
        int rows = masks.Length;
        var logits = Gpu.Random(93, rows * Vocab, 6f);
        var uniforms = Gpu.Random(94, rows).Select(u => (u + 1) / 2 * 0.999f).ToArray();

        // What the host does: the constraint's mask applied to a copy of the row (rows without a mask as they are).
        var expected = (float[])logits.Clone();
        for (int r = 0; r < rows; r++)
            if (masks[r] is { } m) Apply(expected.AsSpan(r * Vocab, Vocab), m);

        var (masked, ids) = Run(ops, logits, masks, temperature, topK, topP, uniforms);

        Assert.Equal(expected, masked); // exact: allowed and unconstrained logits untouched, the rest −∞
        for (int r = 0; r < rows; r++)
        {
            var row = expected.AsSpan(r * Vocab, Vocab);
            int want = temperature == 0 ? Sampler.ArgMax(row) : SamplingTests.Twin(row, temperature, topK, topP, uniforms[r]);
            Assert.Equal(want, ids[r]);
            if (masks[r] is { } m) Assert.True((m[want >> 6] >> (want & 63) & 1) == 1, $"row {r} picked forbidden id {want}");
        }
    }

    /// <summary>Grammar masks at four states, a mask of one id, a dense random one, and two unconstrained rows.</summary>
    private static ulong[]?[] Masks()
    {
        var grammar = new TokenGrammar(JsonSchemaGrammar.Compile(System.Text.Json.JsonDocument.Parse(Schema).RootElement.Clone()),
            ByteGrammars.Vocabulary(Vocab, [2]));
        var constraint = grammar.Start([2]);
        var states = new List<ulong[]?>();
        foreach (string step in new[] { "", "{\"", "ok\": ", "tr" })
        {
            foreach (byte b in System.Text.Encoding.UTF8.GetBytes(step)) constraint.Accept(b);
            states.Add(constraint.AllowedMask());
        }
        int words = (Vocab + 63) / 64;
        var single = new ulong[words];
        single[777 >> 6] |= 1UL << (777 & 63);
        var random = new Random(95);
        var dense = Enumerable.Range(0, words).Select(_ => (ulong)random.NextInt64() ^ ((ulong)random.Next() << 40)).ToArray();
        return [.. states, null, single, dense, null];
    }

    private static void Apply(Span<float> row, ulong[] mask)
    {
        for (int id = 0; id < row.Length; id++)
            if ((mask[id >> 6] >> (id & 63) & 1) == 0) row[id] = float.NegativeInfinity;
    }

    private static (float[] Masked, int[] Ids) Run(CudaOps ops, float[] logits, ulong[]?[] masks, float t, int k, float p, float[] u)
    {
        int rows = masks.Length, words = (Vocab + 63) / 64;
        var packed = masks.Where(m => m is not null).SelectMany(m => m!).ToArray();
        int next = 0;
        var maskOfRow = masks.Select(m => m is null ? -1 : next++).ToArray();
        using var ld = Gpu.F32(logits);
        using var md = ops.Device.Upload<ulong>(packed);
        using var rd = Gpu.I32(maskOfRow);
        using var td = Gpu.F32(Enumerable.Repeat(t, rows).ToArray());
        using var kd = Gpu.I32(Enumerable.Repeat(k, rows).ToArray());
        using var pd = Gpu.F32(Enumerable.Repeat(p, rows).ToArray());
        using var ud = Gpu.F32(u);
        using var outd = ops.Device.Allocate(rows * 4);
        ops.MaskLogits(ld.Pointer, Vocab, md.Pointer, 2 * words, rd.Pointer, rows);
        ops.Sample(ld.Pointer, Vocab, td.Pointer, kd.Pointer, pd.Pointer, ud.Pointer, outd.Pointer, rows);
        return (Gpu.ReadF32(ld.Pointer, rows * Vocab), ops.Device.Download<int>(outd.Pointer, rows));
    }
}
