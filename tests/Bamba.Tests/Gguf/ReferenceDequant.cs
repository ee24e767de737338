namespace Bamba.Tests.Gguf;

/// <summary>
/// Dequantizers written straight from ggml-common.h's block structs and ggml-quants.c's dequantize_row_* (field
/// offsets spelled out, one value at a time), to check the engine's dequantizers bit for bit.
/// </summary>
internal static class ReferenceDequant
{
    private static float F16(byte[] b, int o) => (float)BitConverter.ToHalf(b, o);

    /// <summary>block_q8_0 { ggml_half d; int8_t qs[32]; }</summary>
    public static float Q8_0(byte[] b, int block, int j) { int o = block * 34; return (sbyte)b[o + 2 + j] * F16(b, o); }

    /// <summary>block_q4_0 { ggml_half d; uint8_t qs[16]; }: x[j] = (qs[j] &amp; 15) − 8, x[j+16] = (qs[j] >> 4) − 8.</summary>
    public static float Q4_0(byte[] b, int block, int j)
    {
        int o = block * 18, q = j < 16 ? b[o + 2 + j] & 0x0F : b[o + 2 + j - 16] >> 4;
        return (q - 8) * F16(b, o);
    }

    /// <summary>get_scale_min_k4 over block_q4_K/q5_K's scales[12] (at byte 4).</summary>
    private static (int Sc, int M) ScaleMin(byte[] b, int o, int j)
    {
        byte S(int i) => b[o + 4 + i];
        return j < 4 ? (S(j) & 63, S(j + 4) & 63) : ((S(j + 4) & 0xF) | ((S(j - 4) >> 6) << 4), (S(j + 4) >> 4) | ((S(j) >> 6) << 4));
    }

    /// <summary>block_q4_K { half d; half dmin; uint8_t scales[12]; uint8_t qs[128]; }</summary>
    public static float Q4_K(byte[] b, int block, int j)
    {
        int o = block * 144, chunk = j / 64, within = j % 64, sub = 2 * chunk + within / 32;
        var (sc, m) = ScaleMin(b, o, sub);
        byte q = b[o + 16 + chunk * 32 + within % 32];
        int v = within < 32 ? q & 0xF : q >> 4;
        float d1 = F16(b, o) * sc, m1 = F16(b, o + 2) * m;
        return d1 * v - m1;
    }

    /// <summary>block_q5_K { half d; half dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; }</summary>
    public static float Q5_K(byte[] b, int block, int j)
    {
        int o = block * 176, chunk = j / 64, within = j % 64, sub = 2 * chunk + within / 32, l = within % 32;
        var (sc, m) = ScaleMin(b, o, sub);
        byte q = b[o + 48 + chunk * 32 + l];
        int high = (b[o + 16 + l] >> sub) & 1;
        int v = (within < 32 ? q & 0xF : q >> 4) + 16 * high;
        float d1 = F16(b, o) * sc, m1 = F16(b, o + 2) * m;
        return d1 * v - m1;
    }

    /// <summary>block_q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; half d; }</summary>
    public static float Q6_K(byte[] b, int block, int j)
    {
        int o = block * 210, half = j / 128, r = j % 128, quarter = r / 32, l = r % 32;
        byte ql = b[o + half * 64 + l + (quarter % 2) * 32];
        byte qh = b[o + 128 + half * 32 + l];
        int low = quarter < 2 ? ql & 0xF : ql >> 4;
        int q = (low | (((qh >> (2 * quarter)) & 3) << 4)) - 32;
        sbyte sc = (sbyte)b[o + 192 + half * 8 + l / 16 + 2 * quarter];
        return F16(b, o + 208) * sc * q;
    }
}
