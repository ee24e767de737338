using Bamba.Configuration;
using Bamba.Tests.Modeling;
using Bamba.Training;
using Bamba.Weights;

namespace Bamba.Tests.Training;

/// <summary>Loss and the gradient of every parameter against transformers (reference.safetensors grad.*).</summary>
public class GradientParityTests
{
    public static TheoryData<string> ModelsWithGradients() => new(["tiny-bamba", "tiny-bamba-bf16-sharded", .. Fixtures.FamilyModelNames]);

    [Theory]
    [MemberData(nameof(ModelsWithGradients))]
    public void LossAndEveryGradientMatchTransformers(string modelName)
    {
        var (model, ids) = Load(modelName);
        using var reference = new Reference(modelName);

        double loss = model.LossAndGradients(new TrainingBatch([ids]));

        double expectedLoss = reference.Json.GetProperty("loss_single").GetDouble();
        Assert.True(Math.Abs(loss - expectedLoss) <= 1e-5 * Math.Abs(expectedLoss), $"loss {loss} vs transformers {expectedLoss}");
        foreach (var p in model.Parameters.All.Where(p => p.Trainable))
            Tolerance.AssertClose(ReferenceGradient(reference, p.Name), p.Grad, 1e-4, $"{modelName} grad.{p.Name}");
    }

    /// <summary>
    /// The reference gradient of a checkpoint tensor. transformers names gradients after its modules in memory, which
    /// for the newer families differ from the checkpoint's keys: Nemotron-H's <c>backbone.</c> is <c>model.</c> and its
    /// per-expert matrices are one stacked parameter; Granite's stacked experts and router have new names.
    /// </summary>
    internal static float[] ReferenceGradient(Reference reference, string name)
    {
        string key = "grad." + name;
        if (reference.Has(key)) return reference.Floats(key);
        key = "grad." + System.Text.RegularExpressions.Regex.Replace(name, "^backbone\\.", "model.")
            .Replace("block_sparse_moe.input_linear.weight", "block_sparse_moe.experts.gate_up_proj")
            .Replace("block_sparse_moe.output_linear.weight", "block_sparse_moe.experts.down_proj")
            .Replace("router.layer.weight", "router.weight");
        if (reference.Has(key)) return reference.Floats(key);
        var expert = System.Text.RegularExpressions.Regex.Match(key, "^(.*\\.experts)\\.(\\d+)\\.(up_proj|down_proj)\\.weight$");
        Assert.True(expert.Success && reference.Has($"{expert.Groups[1]}.{expert.Groups[3]}"), $"reference has no gradient for {name}");
        var stacked = reference.Floats($"{expert.Groups[1]}.{expert.Groups[3]}");
        int experts = (int)reference.Tensor($"{expert.Groups[1]}.{expert.Groups[3]}").Shape[0], e = int.Parse(expert.Groups[2].Value);
        int size = stacked.Length / experts;
        return stacked.AsSpan(e * size, size).ToArray();
    }

    internal static (TrainableModel Model, int[] Ids) Load(string modelName)
    {
        string dir = Fixtures.Model(modelName);
        var config = BambaConfigReader.Load(dir);
        using var store = WeightStore.Open(dir);
        var model = new TrainableModel(ParameterSet.FromStore(config, store));
        using var reference = new Reference(modelName);
        return (model, reference.Rows("single.input_ids")[0]);
    }
}
