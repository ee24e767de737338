using Bamba.Backends.Cpu;

namespace Bamba.Tests.Backends;

/// <summary>
/// The chunked SSD scan (<see cref="SsdScan"/>, whose chunks are products on the blocked micro-kernel) against the
/// step-by-step recurrence on every instruction set the machine has: chunk and head-dim tails, groups, one step, and the
/// 0.5 B preset's sizes over two chunks.
/// </summary>
[Collection(InstructionSets.Name)]
public class ScanInstructionSetTests
{
    public static TheoryData<CpuInstructionSet, int, int, int, int> Cases()
    {
        var data = new TheoryData<CpuInstructionSet, int, int, int, int>();
        foreach (var set in InstructionSets.Supported)
            foreach (object[] row in CpuKernelTests.ScanShapes()) data.Add(set, (int)row[0], (int)row[1], (int)row[2], (int)row[3]);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ChunkedScanEqualsRecurrence(CpuInstructionSet set, int heads, int groups, int chunk, int steps) =>
        InstructionSets.With(set, () => new CpuKernelTests().ChunkedScanEqualsSequentialRecurrence(heads, groups, chunk, steps));

    [Theory]
    [MemberData(nameof(InstructionSets.All), MemberType = typeof(InstructionSets))]
    public void ChunkedScanEqualsRecurrenceAtModelSize(CpuInstructionSet set) =>
        InstructionSets.With(set, () => CpuKernelTests.CheckScan(new SsdScan.Shape(32, 64, 1, 128, 128), steps: 150, seed: 5));
}
