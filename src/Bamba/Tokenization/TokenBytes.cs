using System.Globalization;
using System.Text;

namespace Bamba.Tokenization;

/// <summary>The bytes each token id adds to the decoded text: what constrained decoding matches a grammar against.</summary>
public static class TokenBytes
{
    /// <summary>Per id its UTF-8 bytes; null for special tokens and ids the vocabulary lacks.</summary>
    public static byte[]?[] Of(HfTokenizer tokenizer)
    {
        var result = new byte[]?[tokenizer.VocabSize];
        var added = tokenizer.AddedTokens.ToDictionary(t => t.Id);
        for (int id = 0; id < result.Length; id++)
        {
            if (added.TryGetValue(id, out var token)) result[id] = token.Special ? null : Encoding.UTF8.GetBytes(token.Content);
            else if (tokenizer.IdToToken(id) is { } piece) result[id] = tokenizer.IsByteLevel ? ByteLevel(piece) : Piece(piece);
        }
        return result;
    }

    private static byte[]? ByteLevel(string piece)
    {
        var bytes = new byte[piece.Length];
        for (int i = 0; i < piece.Length; i++)
        {
            int b = ByteLevelAlphabet.ByteOf(piece[i]);
            if (b < 0) return Encoding.UTF8.GetBytes(piece);
            bytes[i] = (byte)b;
        }
        return bytes;
    }

    /// <summary>SentencePiece-style pieces: "&lt;0xNN&gt;" is one byte (byte fallback), "▁" a space.</summary>
    private static byte[] Piece(string piece) =>
        piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.HexNumber, null, out byte b)
            ? [b]
            : Encoding.UTF8.GetBytes(piece.Replace('▁', ' '));
}
