using System.Text;
using Bamba.Tokenization;

namespace Bamba.Tests.Tokenization;

/// <summary>
/// The embedded-table normalizer against Python's unicodedata (Unicode 14), on the classic hard cases: reordering,
/// composition exclusions, singletons, Hangul, non-starter decompositions, compatibility forms.
/// </summary>
public class UnicodeNormalizationTests
{
    public static TheoryData<string, string, string, string, string> Cases() => new()
    {
        { "e\u0301", "\u00e9", "e\u0301", "\u00e9", "e\u0301" },
        { "\u212b", "\u00c5", "A\u030a", "\u00c5", "A\u030a" },
        { "\u1e9b\u0323", "\u1e9b\u0323", "\u017f\u0323\u0307", "\u1e69", "s\u0323\u0307" },
        { "\ufb01re", "\ufb01re", "\ufb01re", "fire", "fire" },
        { "\uac00\u11a8", "\uac01", "\u1100\u1161\u11a8", "\uac01", "\u1100\u1161\u11a8" },
        { "\u1100\u1161\u11a8", "\uac01", "\u1100\u1161\u11a8", "\uac01", "\u1100\u1161\u11a8" },
        { "\u0958", "\u0915\u093c", "\u0915\u093c", "\u0915\u093c", "\u0915\u093c" },
        { "q\u0307\u0323", "q\u0323\u0307", "q\u0323\u0307", "q\u0323\u0307", "q\u0323\u0307" },
        { "\u00c5\u0301", "\u01fa", "A\u030a\u0301", "\u01fa", "A\u030a\u0301" },
        { "\uff28\uff45\uff4c\uff4c\uff4f\u00b2", "\uff28\uff45\uff4c\uff4c\uff4f\u00b2", "\uff28\uff45\uff4c\uff4c\uff4f\u00b2", "Hello2", "Hello2" },
        { "\u2126 \u00bd", "\u03a9 \u00bd", "\u03a9 \u00bd", "\u03a9 1\u20442", "\u03a9 1\u20442" },
        { "a\u0328\u0301\u0301", "\u0105\u0301\u0301", "a\u0328\u0301\u0301", "\u0105\u0301\u0301", "a\u0328\u0301\u0301" },
        { "\u0344", "\u0308\u0301", "\u0308\u0301", "\u0308\u0301", "\u0308\u0301" },
        { "\ud835\udc00\u0301", "\ud835\udc00\u0301", "\ud835\udc00\u0301", "\u00c1", "A\u0301" },
        { "\u0f73", "\u0f71\u0f72", "\u0f71\u0f72", "\u0f71\u0f72", "\u0f71\u0f72" },
        { "\u01c4", "\u01c4", "\u01c4", "D\u017d", "DZ\u030c" },
        { "\u03d3", "\u03d3", "\u03d2\u0301", "\u038e", "\u03a5\u0301" },    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesUnicodedata(string input, string nfc, string nfd, string nfkc, string nfkd)
    {
        Assert.Equal(nfc, UnicodeNormalization.Normalize(input, NormalizationForm.FormC));
        Assert.Equal(nfd, UnicodeNormalization.Normalize(input, NormalizationForm.FormD));
        Assert.Equal(nfkc, UnicodeNormalization.Normalize(input, NormalizationForm.FormKC));
        Assert.Equal(nfkd, UnicodeNormalization.Normalize(input, NormalizationForm.FormKD));
    }
}
