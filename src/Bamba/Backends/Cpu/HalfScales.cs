using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Bamba.Backends.Cpu;

/// <summary>
/// fp16 block scales read as float through a table of all 65 536 values (256 KiB, as llama.cpp's ggml_table_f32_f16),
/// exactly what <c>(float)Half</c> gives. The quantized dots read one scale per 32 to 256 weights, and the runtime's
/// conversion is a call unless dynamic PGO happens to inline it: without PGO, Q8_0 decode ran at half speed.
/// </summary>
internal static unsafe class HalfScales
{
    private static readonly float[] Table = Build();

    private static float[] Build()
    {
        var table = new float[1 << 16];
        for (int bits = 0; bits < table.Length; bits++) table[bits] = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
        return table;
    }

    /// <summary>The fp16 value stored at <paramref name="p"/> (2 bytes, any alignment).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float At(byte* p) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Table), (nint)Unsafe.ReadUnaligned<ushort>(p));
}
