using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Tests.Modeling;
using Bamba.Weights.Gguf;

namespace Bamba.Tests.Gguf;

/// <summary>A fixture model written as GGUF by our converter and loaded back computes what the safetensors model does.</summary>
public class GgufRoundTripTests
{
    [Theory]
    [MemberData(nameof(Fixtures.Models), MemberType = typeof(Fixtures))]
    public void F32FileGivesTheSafetensorsLogits(string modelName)
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "model.gguf");
        ModelConversion.ToGguf(Fixtures.Model(modelName), file, GgufFileType.Parse("f32"));
        using var expected = BambaModel.Load(Fixtures.Model(modelName));
        using var actual = BambaModel.Load(file);
        Assert.Equal(expected.Config, actual.Config with { AttnLayerIndices = expected.Config.AttnLayerIndices, EosTokenIds = expected.Config.EosTokenIds });
        Assert.Equal(expected.Config.AttnLayerIndices, actual.Config.AttnLayerIndices);
        using var reference = new Reference(modelName);
        var ids = reference.Rows("single.input_ids")[0];
        Tolerance.AssertClose(Logits(expected, ids), Logits(actual, ids), 1e-5, $"{modelName} F32 GGUF logits");
    }

    [Theory]
    [InlineData("f16", 2e-2)]
    [InlineData("bf16", 1e-1)]
    [InlineData("q8_0", 1e-1)]
    public void LowerPrecisionFilesStayNearTheSafetensorsLogits(string type, double tolerance)
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "model.gguf");
        ModelConversion.ToGguf(Fixtures.Model("tiny-bamba"), file, GgufFileType.Parse(type));
        using var expected = BambaModel.Load(Fixtures.Model("tiny-bamba"));
        using var actual = BambaModel.Load(file);
        using var reference = new Reference("tiny-bamba");
        var ids = reference.Rows("single.input_ids")[0];
        Tolerance.AssertClose(Logits(expected, ids), Logits(actual, ids), tolerance, $"tiny-bamba {type} GGUF logits");
    }

    internal static float[] Logits(BambaModel model, int[] ids) =>
        model.Forward([model.CreateState()], [new SequenceInput(ids)], new ForwardOptions { AllLogits = true }).Logits;
}

/// <summary>A directory under the system temp folder, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("bamba-gguf-").FullName;
    public void Dispose() => Directory.Delete(Path, recursive: true);
}
