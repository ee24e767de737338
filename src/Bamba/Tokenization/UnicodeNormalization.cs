using System.Globalization;
using System.Text;

namespace Bamba.Tokenization;

/// <summary>
/// NFC / NFD / NFKC / NFKD (UAX #15) from an embedded table, because the engine runs with InvariantGlobalization,
/// where <see cref="string.Normalize(NormalizationForm)"/> returns its input unchanged.
/// </summary>
internal static class UnicodeNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private sealed class Tables
    {
        public readonly Dictionary<int, byte> CombiningClass = new();
        public readonly Dictionary<int, int[]> Canonical = new();
        public readonly Dictionary<int, int[]> Compatibility = new();
        public readonly Dictionary<long, int> Composites = new();
    }

    private static readonly Lazy<Tables> Data = new(Load);

    public static string Normalize(string text, NormalizationForm form)
    {
        if (System.Text.Ascii.IsValid(text)) return text; // ASCII is invariant under all four forms
        bool compatibility = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        var cps = new List<int>(text.Length);
        foreach (var rune in text.EnumerateRunes()) Decompose(rune.Value, compatibility, cps);
        SortCombiningMarks(cps);
        if (form is NormalizationForm.FormC or NormalizationForm.FormKC) Compose(cps);
        var sb = new StringBuilder(cps.Count);
        foreach (int cp in cps) sb.Append(char.ConvertFromUtf32(cp));
        return sb.ToString();
    }

    private static int Class(int cp) => Data.Value.CombiningClass.TryGetValue(cp, out byte c) ? c : 0;

    private static void Decompose(int cp, bool compatibility, List<int> output)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        var data = Data.Value;
        if ((compatibility && data.Compatibility.TryGetValue(cp, out var parts)) || data.Canonical.TryGetValue(cp, out parts))
            foreach (int p in parts) Decompose(p, compatibility, output);
        else output.Add(cp);
    }

    /// <summary>Canonical ordering: a stable sort of each run of non-starters by combining class.</summary>
    private static void SortCombiningMarks(List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int cls = Class(cps[i]);
            if (cls == 0) continue;
            for (int j = i; j > 0 && Class(cps[j - 1]) > cls; j--) (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
        }
    }

    /// <summary>Canonical composition: each mark joins the last starter unless a mark of equal or higher class sits between.</summary>
    private static void Compose(List<int> cps)
    {
        if (cps.Count == 0) return;
        int starterPos = 0, starter = cps[0];
        int lastClass = Class(starter) == 0 ? 0 : 256; // a leading non-starter blocks everything after it
        int target = 1;
        for (int i = 1; i < cps.Count; i++)
        {
            int ch = cps[i], cls = Class(ch);
            if ((lastClass < cls || lastClass == 0) && TryCompose(starter, ch, out int composite))
            {
                cps[starterPos] = starter = composite;
                continue;
            }
            if (cls == 0) { starterPos = target; starter = ch; }
            lastClass = cls;
            cps[target++] = ch;
        }
        cps.RemoveRange(target, cps.Count - target);
    }

    private static bool TryCompose(int first, int second, out int composite)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
        {
            composite = SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
            return true;
        }
        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
        {
            composite = first + (second - TBase);
            return true;
        }
        return Data.Value.Composites.TryGetValue(((long)first << 21) | (uint)second, out composite);
    }

    private static Tables Load()
    {
        var tables = new Tables();
        using var stream = typeof(UnicodeNormalization).Assembly.GetManifestResourceStream("Bamba.Tokenization.unicode-normalization.txt")
            ?? throw new InvalidOperationException("embedded Unicode normalization table is missing");
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var f = line.Split(' ');
            int cp = Hex(f[1]);
            switch (f[0])
            {
                case "c": tables.CombiningClass[cp] = byte.Parse(f[2], CultureInfo.InvariantCulture); break;
                case "d": tables.Canonical[cp] = f[2..].Select(Hex).ToArray(); break;
                case "k": tables.Compatibility[cp] = f[2..].Select(Hex).ToArray(); break;
                case "p": tables.Composites[((long)cp << 21) | (uint)Hex(f[2])] = Hex(f[3]); break;
            }
        }
        return tables;
    }

    private static int Hex(string s) => int.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
