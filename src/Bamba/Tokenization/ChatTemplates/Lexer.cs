using System.Globalization;
using System.Text;

namespace Bamba.Tokenization.ChatTemplates;

/// <summary>
/// Splits a template into text and tag tokens with the whitespace rules Hugging Face renders with:
/// trim_blocks (drop the newline after a block or comment tag), lstrip_blocks (drop spaces before a block or
/// comment tag that starts its line), '-' markers (strip all whitespace on that side), '+' markers (opt out),
/// keep_trailing_newline=False, and {% raw %} sections kept verbatim.
/// </summary>
internal sealed class Lexer
{
    private static readonly string[] Operators =
        ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"];

    private readonly string _src;
    private readonly List<Token> _tokens = [];
    private readonly int[] _lineStarts;
    private int _pos;
    private bool _stripNextText;

    private Lexer(string source)
    {
        _src = Normalize(source);
        _lineStarts = LineStarts(_src);
    }

    public static List<Token> Tokenize(string source)
    {
        var lexer = new Lexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    /// <summary>Jinja turns \r\n and \r into \n and drops one trailing newline (keep_trailing_newline=False).</summary>
    private static string Normalize(string source)
    {
        var s = source.Replace("\r\n", "\n").Replace('\r', '\n');
        return s.EndsWith('\n') ? s[..^1] : s;
    }

    private static int[] LineStarts(string s)
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < s.Length; i++) if (s[i] == '\n') starts.Add(i + 1);
        return [.. starts];
    }

    private int LineAt(int pos)
    {
        var index = Array.BinarySearch(_lineStarts, pos);
        return (index >= 0 ? index : ~index - 1) + 1;
    }

    private BambaException Error(int pos, string message) => new($"chat template line {LineAt(pos)}: {message}");

    private void Run()
    {
        while (_pos <= _src.Length)
        {
            var tagStart = FindTagStart(_pos);
            var textEnd = tagStart < 0 ? _src.Length : tagStart;
            var text = _src[_pos..textEnd];
            var textStart = _pos;
            if (_stripNextText) text = text.TrimStart();
            _stripNextText = false;
            if (tagStart < 0)
            {
                AddText(text, textStart);
                break;
            }
            var kind = _src[tagStart + 1];
            var marker = tagStart + 2 < _src.Length ? _src[tagStart + 2] : '\0';
            text = StripBeforeTag(text, kind, marker, textStart);
            AddText(text, textStart);
            _pos = tagStart + 2 + (marker is '-' or '+' ? 1 : 0);
            if (kind == '#') SkipComment(tagStart);
            else if (kind == '%' && IsRawStart(_pos)) ReadRaw(tagStart);
            else ReadTag(kind == '%', tagStart);
        }
        _tokens.Add(new Token(TokenKind.End, "", LineAt(_src.Length)));
    }

    private int FindTagStart(int from)
    {
        for (var i = _src.IndexOf('{', from); i >= 0 && i + 1 < _src.Length; i = _src.IndexOf('{', i + 1))
            if (_src[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    /// <summary>'-' strips all trailing whitespace; lstrip_blocks strips blanks before a block/comment tag alone at the start of its line.</summary>
    private string StripBeforeTag(string text, char kind, char marker, int textStart)
    {
        if (marker == '-') return text.TrimEnd();
        if (marker == '+' || kind == '{') return text;
        var lineStart = text.LastIndexOf('\n') + 1;
        var startsLine = lineStart > 0 || textStart == 0 || _src[textStart - 1] == '\n';
        if (!startsLine || lineStart == text.Length) return text;
        for (var i = lineStart; i < text.Length; i++) if (!char.IsWhiteSpace(text[i])) return text;
        return text[..lineStart];
    }

    private void AddText(string text, int start)
    {
        if (text.Length > 0) _tokens.Add(new Token(TokenKind.Text, text, LineAt(start)));
    }

    /// <summary>After a block or comment: '-' strips all following whitespace, '+' keeps it, otherwise trim_blocks drops one newline.</summary>
    private void AfterBlockEnd(char marker)
    {
        if (marker == '-') _stripNextText = true;
        else if (marker != '+' && _pos < _src.Length && _src[_pos] == '\n') _pos++;
    }

    private void SkipComment(int tagStart)
    {
        var close = _src.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (close < 0) throw Error(tagStart, "unclosed comment '{#': expected '#}'");
        var marker = close > _pos && _src[close - 1] is '-' or '+' ? _src[close - 1] : '\0';
        _pos = close + 2;
        AfterBlockEnd(marker);
    }

    /// <summary>True when the block tag starting at <paramref name="pos"/> is exactly 'raw' (not 'rawx' or 'raw_y').</summary>
    private bool IsRawStart(int pos)
    {
        var i = SkipSpaces(pos);
        if (string.CompareOrdinal(_src, i, "raw", 0, 3) != 0) return false;
        var j = SkipSpaces(i + 3);
        if (j < _src.Length && _src[j] is '-' or '+') j++;
        return string.CompareOrdinal(_src, j, "%}", 0, 2) == 0;
    }

    private int SkipSpaces(int pos)
    {
        while (pos < _src.Length && char.IsWhiteSpace(_src[pos])) pos++;
        return pos;
    }

    /// <summary>Everything up to {% endraw %} is literal text; '-' markers on the raw tags still trim.</summary>
    private void ReadRaw(int tagStart)
    {
        var i = SkipSpaces(SkipSpaces(_pos) + 3);
        var openMarker = _src[i] is '-' or '+' ? _src[i++] : '\0';
        if (string.CompareOrdinal(_src, i, "%}", 0, 2) != 0) throw Error(tagStart, "malformed '{% raw %}' tag");
        var contentStart = i + 2;
        var search = contentStart;
        while (true)
        {
            var open = _src.IndexOf("{%", search, StringComparison.Ordinal);
            if (open < 0) throw Error(tagStart, "unclosed 'raw' block: expected '{% endraw %}'");
            var j = open + 2;
            var closeMarkerBefore = j < _src.Length && _src[j] is '-' or '+' ? _src[j++] : '\0';
            j = SkipSpaces(j);
            if (string.CompareOrdinal(_src, j, "endraw", 0, 6) != 0) { search = open + 2; continue; }
            j = SkipSpaces(j + 6);
            var endMarker = j < _src.Length && _src[j] is '-' or '+' ? _src[j++] : '\0';
            if (string.CompareOrdinal(_src, j, "%}", 0, 2) != 0) throw Error(open, "malformed '{% endraw %}' tag");
            var content = _src[contentStart..open];
            if (openMarker == '-') content = content.TrimStart();
            // The endraw tag gets the same '-' / lstrip_blocks treatment as any block tag; '{% raw %}' itself is not trimmed.
            content = StripBeforeTag(content, '%', closeMarkerBefore, contentStart);
            AddText(content, contentStart);
            _pos = j + 2;
            AfterBlockEnd(endMarker);
            return;
        }
    }

    private void ReadTag(bool isBlock, int tagStart)
    {
        _tokens.Add(new Token(isBlock ? TokenKind.BlockBegin : TokenKind.VariableBegin, isBlock ? "{%" : "{{", LineAt(tagStart)));
        var depth = 0;
        while (true)
        {
            _pos = SkipSpaces(_pos);
            if (_pos >= _src.Length)
                throw Error(tagStart, $"unclosed tag '{(isBlock ? "{%" : "{{")}': expected '{(isBlock ? "%}" : "}}")}'");
            if (depth == 0 && TryReadTagEnd(isBlock)) return;
            var c = _src[_pos];
            if (char.IsLetter(c) || c == '_') ReadName();
            else if (char.IsDigit(c)) ReadNumber();
            else if (c is '\'' or '"') ReadString();
            else depth = ReadOperator(depth);
        }
    }

    private bool TryReadTagEnd(bool isBlock)
    {
        var close = isBlock ? "%}" : "}}";
        var marker = _src[_pos] is '-' or '+' ? _src[_pos] : '\0';
        var at = _pos + (marker == '\0' ? 0 : 1);
        if (string.CompareOrdinal(_src, at, close, 0, 2) != 0) return false;
        _tokens.Add(new Token(isBlock ? TokenKind.BlockEnd : TokenKind.VariableEnd, close, LineAt(_pos)));
        _pos = at + 2;
        if (isBlock) AfterBlockEnd(marker);
        else if (marker == '-') _stripNextText = true;
        return true;
    }

    private void ReadName()
    {
        var start = _pos;
        while (_pos < _src.Length && (char.IsLetterOrDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        _tokens.Add(new Token(TokenKind.Name, _src[start.._pos], LineAt(start)));
    }

    private void ReadNumber()
    {
        var start = _pos;
        while (_pos < _src.Length && (char.IsDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        var isFloat = false;
        if (_pos + 1 < _src.Length && _src[_pos] == '.' && char.IsDigit(_src[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            while (_pos < _src.Length && (char.IsDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        }
        if (_pos < _src.Length && _src[_pos] is 'e' or 'E')
        {
            var save = _pos++;
            if (_pos < _src.Length && _src[_pos] is '+' or '-') _pos++;
            if (_pos < _src.Length && char.IsDigit(_src[_pos]))
            {
                isFloat = true;
                while (_pos < _src.Length && char.IsDigit(_src[_pos])) _pos++;
            }
            else _pos = save;
        }
        var text = _src[start.._pos].Replace("_", "");
        _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, text, LineAt(start)));
    }

    private void ReadString()
    {
        var start = _pos;
        var quote = _src[_pos++];
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _src.Length) throw Error(start, "unterminated string literal");
            var c = _src[_pos++];
            if (c == quote) break;
            if (c != '\\') { sb.Append(c); continue; }
            if (_pos >= _src.Length) throw Error(start, "unterminated string literal");
            AppendEscape(sb, _src[_pos++]);
        }
        _tokens.Add(new Token(TokenKind.String, sb.ToString(), LineAt(start)));
    }

    /// <summary>Python string escapes; an unknown escape keeps its backslash, as Python does.</summary>
    private void AppendEscape(StringBuilder sb, char e)
    {
        switch (e)
        {
            case 'n': sb.Append('\n'); break;
            case 't': sb.Append('\t'); break;
            case 'r': sb.Append('\r'); break;
            case '0': sb.Append('\0'); break;
            case 'a': sb.Append('\a'); break;
            case 'b': sb.Append('\b'); break;
            case 'f': sb.Append('\f'); break;
            case 'v': sb.Append('\v'); break;
            case '\\': sb.Append('\\'); break;
            case '\'': sb.Append('\''); break;
            case '"': sb.Append('"'); break;
            case '\n': break;
            case 'x': sb.Append(ReadHexEscape(2)); break;
            case 'u': sb.Append(ReadHexEscape(4)); break;
            case 'U': sb.Append(ReadHexEscape(8)); break;
            default: sb.Append('\\').Append(e); break;
        }
    }

    private string ReadHexEscape(int digits)
    {
        if (_pos + digits > _src.Length || !int.TryParse(_src.AsSpan(_pos, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code))
            throw Error(_pos, "malformed \\x, \\u or \\U escape in string literal");
        _pos += digits;
        return char.ConvertFromUtf32(code);
    }

    /// <summary>Brackets are counted so '}}' inside a dict literal does not end a {{ }} tag.</summary>
    private int ReadOperator(int depth)
    {
        foreach (var op in Operators)
        {
            if (string.CompareOrdinal(_src, _pos, op, 0, op.Length) != 0) continue;
            _tokens.Add(new Token(TokenKind.Operator, op, LineAt(_pos)));
            _pos += op.Length;
            return op switch
            {
                "(" or "[" or "{" => depth + 1,
                ")" or "]" or "}" => Math.Max(0, depth - 1),
                _ => depth,
            };
        }
        throw Error(_pos, $"unexpected character '{_src[_pos]}'");
    }
}
