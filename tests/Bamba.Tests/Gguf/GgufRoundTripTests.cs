using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Tests.Modeling;
using Bamba.Weights.Gguf;

namespace Bamba.Tests.Gguf;

/// <summary>A fixture model written as GGUF by our converter and loaded back computes what the safetensors model does.</summary>
public class GgufRoundTripTests
{
    [Theory]
    [MemberData(nameof(Fixtures.AllModels), MemberType = typeof(Fixtures))]
    public void F32FileGivesTheSafetensorsLogits(string modelName)
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "model.gguf");
        ModelConversion.ToGguf(Fixtures.Model(modelName), file, GgufFileType.Parse("f32"));
        using var expected = BambaModel.Load(Fixtures.Model(modelName));
        using var actual = BambaModel.Load(file);
        // Lists compare by reference inside the record: the same instances on both sides, the contents compared apart.
        var (e, layers) = (expected.Config, expected.Config.Layers);
        Assert.Equal(e with { Layers = layers }, actual.Config with { AttnLayerIndices = e.AttnLayerIndices, EosTokenIds = e.EosTokenIds, Layers = layers });
        Assert.Equal(e.AttnLayerIndices, actual.Config.AttnLayerIndices);
        Assert.Equal(e.Layers, actual.Config.Layers);
        using var reference = new Reference(modelName);
        var ids = reference.Rows("single.input_ids")[0];
        Tolerance.AssertClose(Logits(expected, ids), Logits(actual, ids), 1e-5, $"{modelName} F32 GGUF logits");
    }

    /// <summary>
    /// Without <c>bamba.config</c> (a file from llama.cpp's converter has none) the config comes from llama.cpp's keys
    /// alone: the same layer plan, sizes, multipliers and experts, so the same logits.
    /// </summary>
    [Theory]
    [InlineData("tiny-bamba")]
    [InlineData("tiny-granite-moe-hybrid")]
    [InlineData("tiny-granite-hybrid-dense-rope")]
    [InlineData("tiny-nemotron-h")]
    public void FileWithoutBambaConfigIsReadFromLlamaCppsKeys(string modelName)
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "model.gguf"), bare = Path.Combine(dir.Path, "bare.gguf");
        ModelConversion.ToGguf(Fixtures.Model(modelName), file, GgufFileType.Parse("f32"));
        WithoutKey(file, bare, GgufArchitecture.ConfigKey);
        using var expected = BambaModel.Load(Fixtures.Model(modelName));
        using var actual = BambaModel.Load(bare);
        Assert.Equal(expected.Config.Layers, actual.Config.Layers);
        using var reference = new Reference(modelName);
        var ids = reference.Rows("single.input_ids")[0];
        Tolerance.AssertClose(Logits(expected, ids), Logits(actual, ids), 1e-5, $"{modelName} GGUF without {GgufArchitecture.ConfigKey}");
    }

    /// <summary>A copy of a GGUF file without one metadata key, its tensors unchanged.</summary>
    private static void WithoutKey(string source, string output, string key)
    {
        using var file = GgufFile.Open(source);
        var tensors = file.TensorList.Select(t => new GgufWriter.Tensor(t.Name, t.DType, t.Shape, s => s.Write(file.Get(t).Bytes))).ToList();
        GgufWriter.Write(output, file.Metadata.Where(kv => kv.Key != key), tensors);
    }

    [Theory]
    [InlineData("f16", 2e-2)]
    [InlineData("bf16", 1e-1)]
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

    /// <summary>A Q8_0 file converted back to an HF directory (f32) holds exactly the file's dequantized weights.</summary>
    [Fact]
    public void ConvertToHfKeepsTheFilesModel()
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "model.gguf"), hf = Path.Combine(dir.Path, "hf");
        Assert.Equal(0, Cli.CliRunner.Run("convert", "--model", Fixtures.Model("tiny-bamba"), "--type", "q8_0", "--out", file).ExitCode);
        Assert.Equal(0, Cli.CliRunner.Run("convert", "--model", file, "--to", "hf", "--out", hf).ExitCode);
        var gguf = GgufModel.Open(file);
        using var store = gguf.Store;
        using var back = Bamba.Weights.WeightStore.Open(hf);
        foreach (var t in back.Tensors)
            Assert.True(store.Get(t.Name).ToFloatArray().AsSpan().SequenceEqual(back.Get(t.Name).ToFloatArray()), t.Name);
        Assert.Equal(store.Tensors.Count(), back.Tensors.Count());
        Assert.False(File.Exists(Path.Combine(hf, "tokenizer.json")), "a placeholder vocabulary must not become a tokenizer");
    }

    [Fact]
    public void ConvertRejectsAnUnknownType() =>
        Cli.CliRunner.AssertUserError(Cli.CliRunner.Run("convert", "--model", Fixtures.Model("tiny-bamba"), "--type", "q3_k", "--out", "/tmp/never.gguf"),
            "--type must be one of");

    internal static float[] Logits(BambaModel model, int[] ids) =>
        model.Forward([model.CreateState()], [new SequenceInput(ids)], new ForwardOptions { AllLogits = true }).Logits;
}

/// <summary>A directory under the system temp folder, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("bamba-gguf-").FullName;
    public void Dispose() => Directory.Delete(Path, recursive: true);
}
