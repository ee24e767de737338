using System.Text;
using Bamba.Serving;

namespace Bamba.Tests.Server;

/// <summary>
/// A stand-in tokenizer for the tiny random model (vocabulary 512): printable ASCII character c is id 3 + (c − 32),
/// a newline is 98, every other id decodes to "[id]" (as a multi-character vocabulary entry would), 1 is BOS and 2 is EOS (both special,
/// left out of decoded text). The chat template is a two-marker format. Exact, invertible for ASCII, prefix-stable.
/// </summary>
internal sealed class CharCodec : ITextCodec
{
    public const int Bos = 1, Eos = 2, Newline = 98;

    public int[] Encode(string text, bool addSpecialTokens)
    {
        var ids = new List<int>();
        if (addSpecialTokens) ids.Add(Bos);
        foreach (char c in text)
        {
            if (c == '\n') { ids.Add(Newline); continue; }
            if (c is < ' ' or > '~') throw new BambaException($"CharCodec encodes printable ASCII only, got U+{(int)c:X4}");
            ids.Add(3 + (c - ' '));
        }
        return ids.ToArray();
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        var text = new StringBuilder();
        foreach (int id in ids)
            if (id is not (Bos or Eos or 0)) text.Append(TokenText(id));
        return text.ToString();
    }

    public ITextDecoder CreateDecoder() => new PerToken(this);

    public string TokenText(int id) => id switch
    {
        Bos => "<s>",
        Eos => "</s>",
        >= 3 and < 3 + 95 => ((char)(' ' + id - 3)).ToString(),
        Newline => "\n",
        _ => $"[{id}]",
    };

    public bool HasChatTemplate => true;

    public string RenderChat(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt) =>
        string.Concat(messages.Select(m => $"#{m.Role}: {m.Content}\n")) + (addGenerationPrompt ? "#assistant: " : "");

    public bool ChatIncludesSpecialTokens => false;

    /// <summary>Every id is whole text on its own here, so streaming decode is per token.</summary>
    private sealed class PerToken(CharCodec codec) : ITextDecoder
    {
        public string Add(int id) => codec.Decode([id]);
        public string Flush() => "";
    }
}
