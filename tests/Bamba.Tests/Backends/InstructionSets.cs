using Bamba.Backends.Cpu;

namespace Bamba.Tests.Backends;

/// <summary>
/// Tests that switch <see cref="CpuKernels.Current"/> run in this collection, alone: the setting is process-wide.
/// Their data lists only the instruction sets this machine has; <see cref="Missing"/> names the others in the test output.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InstructionSets
{
    public const string Name = "CPU instruction sets";

    public static CpuInstructionSet[] Supported => Enum.GetValues<CpuInstructionSet>().Where(CpuKernels.IsSupported).ToArray();
    public static string Missing => string.Join(", ", Enum.GetValues<CpuInstructionSet>().Where(s => !CpuKernels.IsSupported(s)));

    public static TheoryData<CpuInstructionSet> All() => new(Supported);

    /// <summary>Runs <paramref name="test"/> with the kernels on <paramref name="set"/>, then restores the setting.</summary>
    public static void With(CpuInstructionSet set, Action test)
    {
        var previous = CpuKernels.Current;
        CpuKernels.Current = set;
        try { test(); }
        finally { CpuKernels.Current = previous; }
    }
}
