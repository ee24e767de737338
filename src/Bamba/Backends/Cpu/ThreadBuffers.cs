namespace Bamba.Backends.Cpu;

/// <summary>Scratch buffers kept per thread by the blocked kernels: pinned, grown when too small, never shrunk or freed.</summary>
internal static unsafe class ThreadBuffers
{
    /// <summary>At least <paramref name="length"/> floats of <paramref name="buffer"/> (a [ThreadStatic] field), reallocated if shorter.</summary>
    public static float* Get(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateArray<float>(Math.Max(1, length), pinned: true);
        return (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref buffer[0]);
    }
}
