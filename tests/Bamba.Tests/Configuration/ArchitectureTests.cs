using Bamba.Architectures;
using Bamba.Backends.Cuda;
using Bamba.Configuration;

namespace Bamba.Tests.Configuration;

/// <summary>The registry and the families' config mappings: layer plans, multipliers, experts, and the refusals.</summary>
public class ArchitectureTests
{
    [Fact]
    public void AnUnknownModelTypeIsRefusedWithTheSupportedList()
    {
        var e = Assert.Throws<BambaException>(() => BambaConfigReader.Parse("{\"model_type\": \"llama\"}"));
        Assert.Contains("model_type is 'llama'", e.Message);
        Assert.Contains("bamba, granitemoehybrid, nemotron_h", e.Message);
    }

    [Fact]
    public void GraniteMapsItsPlanMultipliersAndExperts()
    {
        var c = BambaConfigReader.Load(Fixtures.Model("tiny-granite-moe-hybrid"));
        Assert.Equal("granitemoehybrid", c.ModelType);
        Assert.Equal([MixerKind.Mamba, MixerKind.Mamba, MixerKind.Attention, MixerKind.Mamba, MixerKind.Mamba], c.Layers.Select(l => l.Mixer));
        Assert.All(c.Layers, l => Assert.Equal(FeedForwardKind.MixtureOfExperts, l.FeedForward));
        Assert.Equal((2.5, 0.5, 0.1, 3.0), (c.EmbeddingMultiplier, c.ResidualMultiplier, c.AttentionScale!.Value, c.LogitsScaling));
        Assert.False(c.UseRope);
        Assert.Equal((4, 2, 96, 80), (c.NumExperts, c.NumExpertsPerToken, c.ExpertIntermediateSize, c.DenseMlpSize));
        var dense = BambaConfigReader.Load(Fixtures.Model("tiny-granite-hybrid-dense-rope"));
        Assert.All(dense.Layers, l => Assert.Equal(FeedForwardKind.Mlp, l.FeedForward));
        Assert.True(dense.UseRope);
        Assert.Equal(dense.HeadDim, dense.RotaryDim);
    }

    [Fact]
    public void NemotronPlansFromEitherSpellingAlike()
    {
        var c = BambaConfigReader.Load(Fixtures.Model("tiny-nemotron-h"));
        Assert.Equal(2, c.MambaNormGroups);
        Assert.False(c.MlpGated);
        Assert.Equal(RouterScoring.SigmoidGrouped, c.RouterScoring);
        string json = File.ReadAllText(Path.Combine(Fixtures.Model("tiny-nemotron-h"), "config.json"));
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        node.Remove("layers_block_type");
        node["hybrid_override_pattern"] = "MEM*-ME";
        var fromPattern = BambaConfigReader.Parse(node.ToJsonString());
        Assert.Equal(c.Layers, fromPattern.Layers);
    }

    [Theory]
    [InlineData("moe_latent_size", "256", "moe_latent_size is set")]
    [InlineData("mlp_hidden_act", "\"gelu\"", "mlp_hidden_act 'gelu' is not supported")]
    [InlineData("layers_block_type", "[\"mamba\", \"conv\"]", "layers_block_type contains 'conv'")]
    [InlineData("mlp_bias", "true", "mlp_bias true is not supported")]
    public void NemotronFieldsWeCannotRunAreRefusedByName(string field, string value, string message)
    {
        string json = File.ReadAllText(Path.Combine(Fixtures.Model("tiny-nemotron-h"), "config.json"));
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        node[field] = System.Text.Json.Nodes.JsonNode.Parse(value);
        var e = Assert.Throws<BambaException>(() => BambaConfigReader.Parse(node.ToJsonString(), "config.json"));
        Assert.Contains(message, e.Message);
    }

    /// <summary>GPU training runs every family's layers; what it cannot run (an adapter on half of a fused gate|up) it refuses by name.</summary>
    [Fact]
    public void GpuTrainingTakesEveryFamilyAndRefusesAFusedGateUpAdapterByName()
    {
        foreach (var name in Fixtures.AllModelNames)
            Bamba.Backends.Cuda.Training.CudaTrainableModel.EnsureSupported(Bamba.Tests.Training.GradientParityTests.Load(name).Model.Parameters, null);
        var granite = Bamba.Tests.Training.GradientParityTests.Load("tiny-granite-moe-hybrid").Model.Parameters;
        Bamba.Backends.Cuda.Training.CudaTrainableModel.EnsureSupported(granite, new Bamba.Training.Lora.LoraSet(granite, new(4, 8f, 0f, ["q_proj", "down"])));
        var fused = new Bamba.Training.Lora.LoraSet(granite, new(4, 8f, 0f, ["gate_up"]));
        var e = Assert.Throws<BambaException>(() => Bamba.Backends.Cuda.Training.CudaTrainableModel.EnsureSupported(granite, fused));
        Assert.Contains("fused gate|up", e.Message);
        Assert.Contains("--device cpu", e.Message);
    }

    [Fact]
    public void EveryDescribedTensorIsInTheFixtureWithItsShape()
    {
        foreach (var name in Fixtures.AllModelNames)
        {
            var c = BambaConfigReader.Load(Fixtures.Model(name));
            using var store = Bamba.Weights.WeightStore.Open(Fixtures.Model(name));
            var described = ArchitectureRegistry.TensorsOf(c).All;
            foreach (var spec in described) store.Get(spec.Name, spec.Shape);
            Assert.Equal(store.Tensors.Count(), described.Count + (c.TieWordEmbeddings && store.Contains("lm_head.weight") ? 1 : 0));
        }
    }
}
