using Bamba.Benchmarks;
using Bamba.Configuration;
using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Weights;

namespace Bamba.Tests.Modeling;

/// <summary>
/// Configurations the fixtures do not cover (several groups, tied head, no conv bias, projection biases, no
/// attention layer, odd chunk sizes): the model loads them and its cached, chunked and packed paths agree.
/// </summary>
public sealed class ConfigVariantTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-variant-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static BambaConfig Base => new()
    {
        VocabSize = 97, HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 3, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, AttnLayerIndices = [1], MambaNHeads = 4, MambaDHead = 16, MambaDState = 8,
        MambaChunkSize = 5, InitializerRange = 0.2,
    };

    public static TheoryData<string> Variants() => ["groups2", "tied", "noConvBias", "projBias", "noAttention", "chunk7", "allAttention"];

    private static BambaConfig Make(string variant) => variant switch
    {
        "groups2" => Base with { MambaNGroups = 2 },
        "tied" => Base with { TieWordEmbeddings = true },
        "noConvBias" => Base with { MambaConvBias = false },
        "projBias" => Base with { MambaProjBias = true },
        "noAttention" => Base with { AttnLayerIndices = [] },
        "chunk7" => Base with { MambaChunkSize = 7, MambaDConv = 3 },
        "allAttention" => Base with { AttnLayerIndices = [0, 1, 2] },
        _ => throw new ArgumentException(variant),
    };

    private BambaModel Load(string variant)
    {
        SyntheticModel.Write(Make(variant), _dir, DType.F32, seed: variant.Length);
        if (variant == "projBias") AddProjectionBiases();
        return BambaModel.Load(_dir);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void DecodeChunkedAndPackedPathsAgree(string variant)
    {
        using var model = Load(variant);
        var ids = Enumerable.Range(0, 23).Select(i => (i * 37 + 11) % 97).ToArray();
        var all = new ForwardOptions { AllLogits = true };
        var full = model.Forward([model.CreateState()], [ids], all).Logits;

        var state = model.CreateState();
        var stepped = new List<float>(model.Forward([state], [ids[..9]], all).Logits);
        for (int t = 9; t < ids.Length; t++) stepped.AddRange(model.Step([state], [new[] { ids[t] }])[0]);
        Tolerance.AssertClose(full, stepped.ToArray(), 1e-4, $"{variant}: prefill + decode");

        var other = ids[..6].Reverse().ToArray();
        var packed = model.Forward([model.CreateState(), model.CreateState()], [ids, other], all).Logits;
        var alone = model.Forward([model.CreateState()], [other], all).Logits;
        Tolerance.AssertClose(full.Concat(alone).ToArray(), packed, 1e-4, $"{variant}: packed");
        Assert.All(full, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void LeftPaddingEqualsNoPaddingWithoutProjectionBias()
    {
        using var model = Load("groups2");
        var ids = new[] { 5, 9, 13, 2, 7, 40 };
        var plain = model.Step([model.CreateState()], [ids])[0];
        var padded = model.Step([model.CreateState()],
            [new SequenceInput(new[] { 0, 0, 0 }.Concat(ids).ToArray(), new[] { true, true, true, false, false, false, false, false, false })])[0];
        Tolerance.AssertClose(plain, padded, 1e-5, "left padding");
    }

    [Fact]
    public void TiedHeadUsesTheEmbedding()
    {
        using var model = Load("tied");
        Assert.Equal(model.Weights.Embedding.Info, model.Weights.LmHead.Info);
    }

    /// <summary>Adds in_proj / out_proj biases (random) to the synthetic checkpoint.</summary>
    private void AddProjectionBiases()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        var config = BambaConfigReader.Load(_dir);
        var random = new Random(9);
        List<SafetensorsWriter.Entry> entries;
        using (var file = SafetensorsFile.Open(path))
            entries = file.Tensors.Values.Select(t => new SafetensorsWriter.Entry(t.Name, t.DType, t.Shape, file.Get(t).Bytes.ToArray())).ToList();
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            if (config.IsAttentionLayer(i)) continue;
            foreach (var (name, length) in new[] { ("in_proj.bias", config.InProjDim), ("out_proj.bias", config.HiddenSize) })
            {
                var values = Enumerable.Range(0, length).Select(_ => random.NextSingle() * 0.2f - 0.1f).ToArray();
                // The synthetic model writes the biases as zeros; random ones exercise them.
                string key = $"model.layers.{i}.mamba.{name}";
                entries.RemoveAll(e => e.Name == key);
                entries.Add(new(key, DType.F32, [length], values.SelectMany(BitConverter.GetBytes).ToArray()));
            }
        }
        SafetensorsWriter.Write(path, entries);
    }
}
