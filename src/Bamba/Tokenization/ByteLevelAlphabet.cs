using System.Text;

namespace Bamba.Tokenization;

/// <summary>
/// GPT-2's reversible byte ↔ character table: printable Latin-1 bytes stand for themselves, the other 68 bytes
/// are shifted to U+0100.. so every byte string becomes a printable string the BPE vocabulary is written in.
/// </summary>
internal static class ByteLevelAlphabet
{
    public static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly short[] CharToByte = BuildCharToByte();

    /// <summary>The byte value <paramref name="c"/> stands for, or -1 when it is not in the table.</summary>
    public static int ByteOf(char c) => c < CharToByte.Length ? CharToByte[c] : -1;

    /// <summary>Maps the UTF-8 bytes of <paramref name="text"/> to their table characters.</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the buffers are written before they are read
    public static string Encode(ReadOnlySpan<char> text)
    {
        int byteCount = Encoding.UTF8.GetByteCount(text);
        Span<byte> bytes = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(text, bytes);
        Span<char> chars = byteCount <= 512 ? stackalloc char[byteCount] : new char[byteCount];
        for (int i = 0; i < byteCount; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)(256 + shifted++);
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[512];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++) map[ByteToChar[b]] = (short)b;
        return map;
    }
}
