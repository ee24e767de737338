using System.Globalization;
using System.Text;

namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Python's float repr (shortest round-trip digits, "1.0", "1e-05", "1e+16"), which templates print and tojson emits.</summary>
internal static class PyFloat
{
    public static string Repr(double value)
    {
        if (double.IsNaN(value)) return "nan";
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";
        if (value == 0) return double.IsNegative(value) ? "-0.0" : "0.0";
        var (negative, digits, exponent) = Decompose(value);
        var text = exponent >= -4 && exponent < 16 ? Fixed(digits, exponent) : Scientific(digits, exponent);
        return negative ? "-" + text : text;
    }

    /// <summary>Shortest round-trip digits (no leading/trailing zeros) and the power of ten of the first digit.</summary>
    private static (bool Negative, string Digits, int Exponent) Decompose(double value)
    {
        // "R" gives the shortest round-trip digits, either plain ("0.001") or with an exponent ("1E-05").
        var shortest = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        var exponentPart = 0;
        var ePos = shortest.IndexOfAny(['E', 'e']);
        if (ePos >= 0)
        {
            exponentPart = int.Parse(shortest[(ePos + 1)..], CultureInfo.InvariantCulture);
            shortest = shortest[..ePos];
        }
        var dot = shortest.IndexOf('.');
        var intPart = dot >= 0 ? shortest[..dot] : shortest;
        var fracPart = dot >= 0 ? shortest[(dot + 1)..] : "";
        var all = (intPart + fracPart).TrimStart('0');
        var leadingZeros = (intPart + fracPart).Length - all.Length;
        var exponent = intPart.Length - 1 - leadingZeros + exponentPart;
        return (value < 0, all.TrimEnd('0'), exponent);
    }

    private static string Fixed(string digits, int exponent)
    {
        var sb = new StringBuilder();
        if (exponent < 0)
        {
            sb.Append("0.").Append('0', -exponent - 1).Append(digits);
            return sb.ToString();
        }
        if (digits.Length <= exponent + 1)
            return sb.Append(digits).Append('0', exponent + 1 - digits.Length).Append(".0").ToString();
        return sb.Append(digits, 0, exponent + 1).Append('.').Append(digits, exponent + 1, digits.Length - exponent - 1).ToString();
    }

    private static string Scientific(string digits, int exponent)
    {
        var mantissa = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
        var sign = exponent < 0 ? "-" : "+";
        return mantissa + "e" + sign + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);
    }
}
