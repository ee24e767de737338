using Bamba.Configuration;

namespace Bamba.Tests.Configuration;

public class ConfigReaderTests
{
    private static string Minimal(string extra = "") =>
        "{\"model_type\": \"bamba\", \"hidden_size\": 64, \"num_hidden_layers\": 4, \"num_attention_heads\": 4, " +
        "\"num_key_value_heads\": 2, \"mamba_n_heads\": 8, \"mamba_d_state\": 16, \"vocab_size\": 512" + extra + "}";

    [Fact]
    public void ReadsFixtureConfigs()
    {
        var c = BambaConfigReader.Load(Fixtures.Model("small-bamba"));
        Assert.Equal(2048, c.VocabSize);
        Assert.Equal([3, 7], c.AttnLayerIndices);
        Assert.Equal(16, c.MambaDHead);
        Assert.Equal(double.PositiveInfinity, c.TimeStepLimitMax);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Equal(8, c.RotaryDim);
        Assert.Equal(256 + 2 * 32, c.ConvDim);
        Assert.Equal(256 + c.ConvDim + 16, c.InProjDim);
    }

    [Fact]
    public void AppliesTransformersDefaults()
    {
        var c = BambaConfigReader.Parse(Minimal());
        Assert.Empty(c.AttnLayerIndices);
        Assert.False(c.TieWordEmbeddings);
        Assert.True(c.MambaConvBias);
        Assert.False(c.MambaProjBias);
        Assert.Equal(1, c.MambaNGroups);
        Assert.Equal(4, c.MambaDConv);
        Assert.Equal(256, c.MambaChunkSize);
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.Equal([2], c.EosTokenIds);
        Assert.Equal(16, c.MambaDHead); // "auto": expand * hidden / heads
        Assert.Equal((0.0, double.PositiveInfinity), (c.TimeStepLimitMin, c.TimeStepLimitMax));
    }

    [Theory]
    [InlineData(", \"time_step_limit\": [0.0, Infinity]")]
    [InlineData(", \"time_step_limit\": [0.0, {\"__float__\": \"Infinity\"}]")]
    public void ReadsBothInfinityForms(string field) =>
        Assert.Equal(double.PositiveInfinity, BambaConfigReader.Parse(Minimal(field)).TimeStepLimitMax);

    [Fact]
    public void ReadsFiniteTimeStepLimit()
    {
        var c = BambaConfigReader.Parse(Minimal(", \"time_step_limit\": [0.001, 0.1]"));
        Assert.Equal((0.001, 0.1), (c.TimeStepLimitMin, c.TimeStepLimitMax));
    }

    [Fact]
    public void ReadsRopeThetaFromEitherPlace()
    {
        Assert.Equal(500000.0, BambaConfigReader.Parse(Minimal(", \"rope_theta\": 500000.0")).RopeTheta);
        Assert.Equal(20000.0, BambaConfigReader.Parse(Minimal(", \"rope_parameters\": {\"rope_theta\": 20000.0, \"rope_type\": \"default\"}")).RopeTheta);
    }

    [Theory]
    [InlineData(", \"attn_layer_indices\": null")]
    [InlineData(", \"attn_layer_indices\": []")]
    public void NullOrEmptyAttentionListMeansNoAttention(string field) =>
        Assert.Equal(0, BambaConfigReader.Parse(Minimal(field)).NumAttentionLayers);

    [Fact]
    public void ReadsGroupsTiedHeadAndBiases()
    {
        var c = BambaConfigReader.Parse(Minimal(", \"mamba_n_groups\": 2, \"tie_word_embeddings\": true, \"mamba_conv_bias\": false, \"mamba_proj_bias\": true, \"eos_token_id\": [2, 5]"));
        Assert.Equal(2, c.MambaNGroups);
        Assert.True(c.TieWordEmbeddings);
        Assert.False(c.MambaConvBias);
        Assert.True(c.MambaProjBias);
        Assert.Equal([2, 5], c.EosTokenIds);
        Assert.Equal(128 + 2 * 2 * 16, c.ConvDim);
    }

    [Theory]
    [InlineData("{\"model_type\": \"llama\"}", "model_type is 'llama'")]
    [InlineData("{\"hidden_size\": 64}", "model_type is ''")]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1, 2]", "expected a JSON object")]
    public void RejectsWrongFiles(string json, string message) =>
        Assert.Contains(message, Assert.Throws<BambaException>(() => BambaConfigReader.Parse(json, "config.json")).Message);

    [Theory]
    [InlineData(", \"hidden_size\": \"64\"", "'hidden_size' must be an integer")]
    [InlineData(", \"tie_word_embeddings\": \"yes\"", "'tie_word_embeddings' must be true or false")]
    [InlineData(", \"rms_norm_eps\": [1]", "'rms_norm_eps' must be a number")]
    [InlineData(", \"attn_layer_indices\": 3", "'attn_layer_indices' must be a list of integers")]
    [InlineData(", \"attn_layer_indices\": [9]", "attn_layer_indices contains 9")]
    [InlineData(", \"mamba_n_heads\": 7", "mamba_n_heads (7) must divide")]
    [InlineData(", \"mamba_n_groups\": 3", "mamba_n_groups (3) must divide")]
    [InlineData(", \"time_step_limit\": [0.0]", "'time_step_limit' must be a list [low, high]")]
    [InlineData(", \"hidden_act\": \"gelu\"", "hidden_act 'gelu' is not supported")]
    public void NamesTheWrongField(string field, string message)
    {
        // Later duplicates of a key win in System.Text.Json, as in Python's json module.
        var e = Assert.Throws<BambaException>(() => BambaConfigReader.Parse(Minimal(field), "config.json"));
        Assert.Contains(message, e.Message);
        Assert.StartsWith("config.json", e.Message);
    }

    [Fact]
    public void MissingFileIsAUserError() =>
        Assert.Contains("file not found", Assert.Throws<BambaException>(() => BambaConfigReader.Load("/no/such/dir/config.json")).Message);
}
