using System.Runtime.InteropServices;

namespace Bamba.Weights.Gguf;

/// <summary>Unmanaged bytes that a <see cref="WeightStore"/> owns: tensors derived at load (re-ordered Q/K rows, A_log).</summary>
internal sealed unsafe class NativeBuffer : IDisposable
{
    public NativeBuffer(long bytes) { Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64); Length = bytes; }

    public byte* Pointer { get; private set; }
    public long Length { get; }
    public Span<byte> Span => new(Pointer, checked((int)Length));

    public void Dispose()
    {
        if (Pointer == null) return;
        NativeMemory.AlignedFree(Pointer);
        Pointer = null;
    }
}
