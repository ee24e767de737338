using Bamba.Generation;
using Bamba.Modeling;

namespace Bamba.Tests.Modeling;

/// <summary>
/// The recurrent (cached, token by token) path and the chunked path agree, also across chunk boundaries, and packed
/// sequences do not see each other.
/// </summary>
public class CacheConsistencyTests
{
    private const double Tol = 1e-4;

    public static TheoryData<string, int> PrefillSplits() => new()
    {
        { "tiny-bamba", 1 }, { "tiny-bamba", 15 }, { "tiny-bamba", 16 }, { "tiny-bamba", 17 },
        { "tiny-bamba-bf16-sharded", 20 }, { "small-bamba", 31 }, { "small-bamba", 64 }, { "small-bamba", 97 },
        { "tiny-granite-moe-hybrid", 1 }, { "tiny-granite-moe-hybrid", 17 }, { "tiny-granite-hybrid-dense-rope", 9 },
        { "tiny-nemotron-h", 3 }, { "tiny-nemotron-h", 16 },
    };

    [Theory]
    [MemberData(nameof(PrefillSplits))]
    public void PrefillThenDecodeEqualsFullForward(string modelName, int prefill)
    {
        using var model = BambaModel.Load(Fixtures.Model(modelName));
        using var reference = new Reference(modelName);
        var ids = reference.Rows("single.input_ids")[0];
        int vocab = model.Config.VocabSize;
        var full = model.Forward([model.CreateState()], [ids], new ForwardOptions { AllLogits = true }).Logits;

        var state = model.CreateState();
        var cached = new List<float>(model.Forward([state], [ids[..prefill]], new ForwardOptions { AllLogits = true }).Logits);
        for (int t = prefill; t < ids.Length; t++)
            cached.AddRange(model.Step([state], [new[] { ids[t] }])[0]);

        Assert.Equal(ids.Length, state.Length);
        Tolerance.AssertClose(full, cached.ToArray(), Tol, $"{modelName} prefill {prefill} then decode");
        Assert.Equal(full.Length, ids.Length * vocab);
    }

    [Theory]
    [MemberData(nameof(Fixtures.AllModels), MemberType = typeof(Fixtures))]
    public void ChunkedPrefillEqualsOneShot(string modelName)
    {
        using var model = BambaModel.Load(Fixtures.Model(modelName));
        using var reference = new Reference(modelName);
        var ids = reference.Rows("single.input_ids")[0];
        var whole = model.Forward([model.CreateState()], [ids], new ForwardOptions()).Logits;

        var state = model.CreateState();
        float[] last = [];
        for (int start = 0; start < ids.Length; start += 7)
            last = model.Step([state], [ids[start..Math.Min(ids.Length, start + 7)]])[0];

        Tolerance.AssertClose(whole, last, Tol, $"{modelName} prefill in chunks of 7");
    }

    [Theory]
    [MemberData(nameof(Fixtures.AllModels), MemberType = typeof(Fixtures))]
    public void PackedSequencesEqualEachAlone(string modelName)
    {
        using var model = BambaModel.Load(Fixtures.Model(modelName));
        using var reference = new Reference(modelName);
        var rows = reference.Rows("batch2.input_ids");
        var a = rows[0][..20];
        var b = rows[1];
        var options = new ForwardOptions { AllLogits = true };
        var alone = model.Forward([model.CreateState()], [a], options).Logits
            .Concat(model.Forward([model.CreateState()], [b], options).Logits).ToArray();

        // One packed row, position ids restarting at 0 at the boundary: two runs in one call.
        var packed = model.Forward([model.CreateState(), model.CreateState()], [a, b], options).Logits;

        Tolerance.AssertClose(alone, packed, Tol, $"{modelName} packed vs alone");
    }
}
