using Bamba.Weights;
using Bamba.Weights.Quants;

namespace Bamba.Tests.Gguf;

/// <summary>
/// The engine's dequantizers equal <see cref="ReferenceDequant"/> bit for bit, on blocks from our quantizer and on
/// random blocks (every bit pattern of the quants and scales, finite fp16 scales), and the quantizers stay within
/// their format's error.
/// </summary>
public class BlockFormatTests
{
    public static TheoryData<DType> Types() => new(DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K);

    private static Func<byte[], int, int, float> Reference(DType t) => t switch
    {
        DType.Q8_0 => ReferenceDequant.Q8_0,
        DType.Q4_0 => ReferenceDequant.Q4_0,
        DType.Q4_K => ReferenceDequant.Q4_K,
        DType.Q5_K => ReferenceDequant.Q5_K,
        _ => ReferenceDequant.Q6_K,
    };

    [Theory]
    [MemberData(nameof(Types))]
    public void DequantizeIsBitExact(DType t)
    {
        var random = new Random(7);
        int blocks = 64, n = blocks * t.BlockElements();
        var fromQuantizer = new byte[t.ByteCount(n)];
        BlockCodec.Quantize(t, Values(random, n), fromQuantizer);
        foreach (var bytes in new[] { fromQuantizer, RandomBlocks(random, t, blocks) })
        {
            var ours = new float[n];
            BlockCodec.Dequantize(t, bytes, ours);
            for (int i = 0; i < n; i++)
            {
                float expected = Reference(t)(bytes, i / t.BlockElements(), i % t.BlockElements());
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(ours[i]),
                    $"{t} value {i}: reference {expected}, ours {ours[i]}");
            }
        }
    }

    [Theory]
    [InlineData(DType.Q8_0, 0.5 / 127)]
    [InlineData(DType.Q4_0, 0.5 / 7)]
    [InlineData(DType.Q4_K, 1.0 / 15)]
    [InlineData(DType.Q5_K, 1.0 / 31)]
    [InlineData(DType.Q6_K, 1.0 / 31)]
    public void QuantizeThenDequantizeStaysWithinTheFormatsStep(DType t, double relativeStep)
    {
        var random = new Random(3);
        int n = 32 * t.BlockElements();
        var x = Values(random, n);
        var bytes = new byte[t.ByteCount(n)];
        BlockCodec.Quantize(t, x, bytes);
        var back = new float[n];
        BlockCodec.Dequantize(t, bytes, back);
        for (int b = 0; b < n / t.BlockElements(); b++)
        {
            var block = Enumerable.Range(b * t.BlockElements(), t.BlockElements());
            double range = block.Max(i => x[i]) - Math.Min(0, block.Min(i => x[i])) + block.Max(i => Math.Abs(x[i]));
            double worst = block.Max(i => Math.Abs(x[i] - back[i]));
            Assert.True(worst <= relativeStep * range, $"{t} block {b}: error {worst} exceeds {relativeStep * range}");
        }
    }

    [Fact]
    public void AllZeroBlocksStayZero()
    {
        foreach (var t in new[] { DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K })
        {
            var bytes = new byte[t.BlockBytes()];
            BlockCodec.Quantize(t, new float[t.BlockElements()], bytes);
            var back = new float[t.BlockElements()];
            BlockCodec.Dequantize(t, bytes, back);
            Assert.All(back, v => Assert.Equal(0f, v));
        }
    }

    /// <summary>Every type written into a GGUF file and read back through the mapped tensor equals the reference decode of its bytes.</summary>
    [Fact]
    public void GgufTensorsOfEveryTypeReadBackBitExact()
    {
        var random = new Random(11);
        var types = new[] { DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K };
        var raw = types.ToDictionary(t => t, t =>
        {
            var b = t.IsQuantized() ? RandomBlocks(random, t, 4 * 256 / t.BlockElements()) : new byte[t.ByteCount(4 * 256)];
            if (!t.IsQuantized()) BlockCodecFloats(t, Values(random, 4 * 256), b);
            return b;
        });
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "types.gguf");
        Bamba.Weights.Gguf.GgufWriter.Write(path, [], types.Select(t => new Bamba.Weights.Gguf.GgufWriter.Tensor(t.ToString(), t, [4, 256], s => s.Write(raw[t]))).ToList());
        using var file = Bamba.Weights.Gguf.GgufFile.Open(path);
        foreach (var t in types)
        {
            var values = file.Get(file.Tensors[t.ToString()]).ToFloatArray();
            for (int i = 0; i < values.Length; i++)
            {
                float expected = t switch
                {
                    DType.F32 => BitConverter.ToSingle(raw[t], 4 * i),
                    DType.F16 => (float)BitConverter.ToHalf(raw[t], 2 * i),
                    DType.BF16 => BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(raw[t], 2 * i) << 16),
                    _ => Reference(t)(raw[t], i / t.BlockElements(), i % t.BlockElements()),
                };
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(values[i]), $"{t} value {i}");
            }
        }
    }

    private static void BlockCodecFloats(DType t, float[] x, byte[] bytes)
    {
        for (int i = 0; i < x.Length; i++)
        {
            if (t == DType.F32) BitConverter.TryWriteBytes(bytes.AsSpan(4 * i), x[i]);
            else if (t == DType.F16) BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), (Half)x[i]);
            else BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), (ushort)(BitConverter.SingleToInt32Bits(x[i]) >> 16));
        }
    }

    private static float[] Values(Random r, int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * (r.Next(4) == 0 ? 8 : 1)).ToArray();

    /// <summary>Random bytes with every fp16 scale replaced by a finite one.</summary>
    private static byte[] RandomBlocks(Random r, DType t, int blocks)
    {
        var bytes = new byte[t.ByteCount(blocks * t.BlockElements())];
        r.NextBytes(bytes);
        int[] halves = t switch { DType.Q4_K or DType.Q5_K => [0, 2], DType.Q6_K => [208], _ => [0] };
        for (int b = 0; b < blocks; b++)
            foreach (int h in halves)
                BitConverter.TryWriteBytes(bytes.AsSpan(b * t.BlockBytes() + h), (Half)(float)(r.NextDouble() * 0.1));
        return bytes;
    }
}
