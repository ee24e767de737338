namespace Bamba.Backends.Cpu;

/// <summary>Scratch buffers kept per thread by the blocked kernels: pinned, grown when too small, never shrunk or freed.</summary>
internal static unsafe class ThreadBuffers
{
    /// <summary>At least <paramref name="length"/> elements of <paramref name="buffer"/> (a [ThreadStatic] field), reallocated if shorter.</summary>
    public static T* Get<T>(ref T[]? buffer, int length) where T : unmanaged
    {
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateArray<T>(Math.Max(1, length), pinned: true);
        return (T*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref buffer[0]);
    }
}
