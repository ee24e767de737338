using Bamba.Backends.Cpu;

namespace Bamba.Tests.Backends;

/// <summary>
/// The CPU parity tests against the transformers fixtures, rerun with the kernels forced onto each instruction set
/// this machine has (the plain runs of <see cref="ForwardParityTests"/> and <see cref="GreedyParityTests"/> use the widest).
/// </summary>
[Collection(InstructionSets.Name)]
public class InstructionSetParityTests
{
    public static TheoryData<CpuInstructionSet, string, string> ForwardCases()
    {
        var data = new TheoryData<CpuInstructionSet, string, string>();
        foreach (var set in InstructionSets.Supported)
            foreach (object[] row in ForwardParityTests.Cases()) data.Add(set, (string)row[0], (string)row[1]);
        return data;
    }

    public static TheoryData<CpuInstructionSet, string> GreedyCases()
    {
        var data = new TheoryData<CpuInstructionSet, string>();
        foreach (var set in InstructionSets.Supported)
            foreach (var model in Fixtures.ModelNames) data.Add(set, model);
        return data;
    }

    [Theory]
    [MemberData(nameof(ForwardCases))]
    public void ForwardMatchesTransformers(CpuInstructionSet set, string model, string label) =>
        InstructionSets.With(set, () => new ForwardParityTests().LogitsAndHiddenStatesMatchTransformers(model, label));

    [Theory]
    [MemberData(nameof(GreedyCases))]
    public void GreedyTokensMatchTransformers(CpuInstructionSet set, string model) =>
        InstructionSets.With(set, () =>
        {
            new GreedyParityTests().SinglePromptGreedyTokensMatch(model);
            new GreedyParityTests().LeftPaddedBatchGreedyTokensMatch(model);
        });
}
