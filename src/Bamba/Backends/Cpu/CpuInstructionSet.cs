using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bamba.Backends.Cpu;

/// <summary>The vector instructions the CPU kernels use, widest first.</summary>
public enum CpuInstructionSet
{
    /// <summary>Plain scalar code: the reference every other path is tested against.</summary>
    Scalar,
    /// <summary>256-bit vectors with FMA (AVX2).</summary>
    Avx2,
    /// <summary>512-bit vectors (AVX-512F).</summary>
    Avx512,
}

/// <summary>
/// Which <see cref="CpuInstructionSet"/> the kernels run: the widest the CPU has, or the one named by the environment
/// variable <c>BAMBA_CPU_ISA</c> (scalar, avx2, avx512). Tests set <see cref="Current"/> to run every path the machine has.
/// </summary>
public static class CpuKernels
{
    private static CpuInstructionSet _current = FromEnvironment();

    public static CpuInstructionSet Best =>
        IsSupported(CpuInstructionSet.Avx512) ? CpuInstructionSet.Avx512
        : IsSupported(CpuInstructionSet.Avx2) ? CpuInstructionSet.Avx2
        : CpuInstructionSet.Scalar;

    public static CpuInstructionSet Current
    {
        get => _current;
        set => _current = IsSupported(value) ? value
            : throw new PlatformNotSupportedException($"this CPU has no {value} instructions");
    }

    public static bool IsSupported(CpuInstructionSet set) => set switch
    {
        CpuInstructionSet.Avx512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported,
        CpuInstructionSet.Avx2 => Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported,
        _ => true,
    };

    private static CpuInstructionSet FromEnvironment()
    {
        string? name = Environment.GetEnvironmentVariable("BAMBA_CPU_ISA");
        if (string.IsNullOrEmpty(name)) return Best;
        if (!Enum.TryParse(name, ignoreCase: true, out CpuInstructionSet set) || !Enum.IsDefined(set))
            throw new BambaException($"BAMBA_CPU_ISA: '{name}' is not one of scalar, avx2, avx512");
        if (!IsSupported(set)) throw new BambaException($"BAMBA_CPU_ISA: this CPU has no {set} instructions");
        return set;
    }
}
