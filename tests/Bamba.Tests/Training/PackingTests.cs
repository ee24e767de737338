using Bamba.Tests.Modeling;
using Bamba.Training;

namespace Bamba.Tests.Training;

/// <summary>Padding-free packing: sequences packed into one row train exactly as the same sequences one by one.</summary>
public class PackingTests
{
    [Theory]
    [MemberData(nameof(GradientParityTests.ModelsWithGradients), MemberType = typeof(GradientParityTests))]
    public void PackedRowGivesTheSameLossAndGradientsAsSequencesOneByOne(string modelName)
    {
        var (packedModel, ids) = GradientParityTests.Load(modelName);
        var (separateModel, _) = GradientParityTests.Load(modelName);
        int[] a = ids[..17], b = ids[17..], c = ids[5..12];
        var packed = new TrainingBatch([a, b, c]);
        float scale = 1f / packed.TargetCount;

        var packedSums = packedModel.ForwardBackward(packed, scale, 0f);
        var separateSums = new LossSums();
        foreach (var sequence in new[] { a, b, c }) separateSums += separateModel.ForwardBackward(new TrainingBatch([sequence]), scale, 0f);

        Assert.Equal(separateSums.Targets, packedSums.Targets);
        Assert.Equal(separateSums.CrossEntropy, packedSums.CrossEntropy, 1e-4);
        var separate = separateModel.Parameters.All.ToDictionary(p => p.Name);
        foreach (var p in packedModel.Parameters.All) Tolerance.AssertClose(separate[p.Name].Grad, p.Grad, 1e-5, $"packed grad {p.Name}");
    }

    [Fact]
    public void TheLastTokenOfASequenceNeverPredictsTheNextSequence()
    {
        var batch = new TrainingBatch([[5, 6, 7], [8, 9]], [[5, 6, 7], [TrainingBatch.IgnoreIndex, 9]]);
        Assert.Equal(new[] { 6, 7, TrainingBatch.IgnoreIndex, 9, TrainingBatch.IgnoreIndex }, Enumerable.Range(0, 5).Select(batch.Target));
        Assert.Equal(3, batch.TargetCount);
    }
}
