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
            Tolerance.AssertClose(reference.Gradient(p.Name), p.Grad, 1e-4, $"{modelName} grad.{p.Name}");
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
