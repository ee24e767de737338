using System.Text.Json;
using Bamba.Configuration;

namespace Bamba.Tests.Configuration;

/// <summary>transformers validates config fields strictly: a float field written as <c>0</c> fails to load.</summary>
public class ConfigWriterFloatTests
{
    [Fact]
    public void FloatFieldsAreWrittenAsFloatsAndReadBack()
    {
        var config = BambaConfigReader.Load(Fixtures.Model("tiny-bamba"));
        string json = BambaConfigWriter.ToJson(config).ToJsonString();
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal("0.0", root.GetProperty("time_step_limit")[0].GetRawText());
        Assert.Equal("Infinity", root.GetProperty("time_step_limit")[1].GetProperty("__float__").GetString());
        foreach (var field in new[] { "attention_dropout", "z_loss_coefficient", "rms_norm_eps", "initializer_range" })
            Assert.Matches("[.Ee]", root.GetProperty(field).GetRawText());
        Assert.Equal("10000.0", root.GetProperty("rope_parameters").GetProperty("rope_theta").GetRawText());
        Assert.Equal(config, BambaConfigReader.Parse(json) with { AttnLayerIndices = config.AttnLayerIndices, EosTokenIds = config.EosTokenIds });
    }
}
