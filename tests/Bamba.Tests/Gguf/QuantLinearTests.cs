using Bamba.Backends.Cpu;
using Bamba.Tests.Weights;
using Bamba.Weights;
using Bamba.Weights.Quants;

namespace Bamba.Tests.Gguf;

/// <summary>
/// Linear over a quantized weight (decode rows through QuantGemv and the fused Q8_0 dot, prefill rows through the
/// integer tiles) equals a float reference over the dequantized weight and the activations as llama.cpp quantizes them.
/// </summary>
public unsafe class QuantLinearTests
{
    public static TheoryData<DType, int> Cases()
    {
        var data = new TheoryData<DType, int>();
        foreach (var t in new[] { DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K })
            foreach (int rows in new[] { 1, 3, 9 }) data.Add(t, rows);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheDequantizedReference(DType t, int n)
    {
        const int m = 40, k = 512;
        var random = new Random(5);
        var w = Enumerable.Range(0, m * k).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var x = Enumerable.Range(0, n * k).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var bias = Enumerable.Range(0, m).Select(i => 0.01f * i).ToArray();
        var bytes = new byte[t.ByteCount(m * k)];
        BlockCodec.Quantize(t, w, bytes);
        var dequantized = new float[m * k];
        BlockCodec.Dequantize(t, bytes, dequantized);
        var xq = new float[x.Length];
        ActivationQuant.RoundTrip(t, x, xq);

        var y = new float[n * m];
        fixed (byte* p = bytes)
            Linear.Forward(x, n, new WeightTensor(new TensorInfo("w", "", t, [m, k], 0, bytes.Length), p), bias, y);

        for (int i = 0; i < n; i++)
            for (int r = 0; r < m; r++)
            {
                double expected = bias[r];
                for (int j = 0; j < k; j++) expected += (double)dequantized[r * k + j] * xq[i * k + j];
                Assert.True(Math.Abs(expected - y[i * m + r]) <= 1e-4 * Math.Max(1, Math.Abs(expected)), $"{t} row {i},{r}: {y[i * m + r]} vs {expected}");
            }
    }

    [Fact]
    public void FusedQ8_0DotEqualsTheScalarLoop()
    {
        const int k = 1024;
        var random = new Random(9);
        var w = Enumerable.Range(0, k).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var x = Enumerable.Range(0, k).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var bytes = new byte[DType.Q8_0.ByteCount(k)];
        BlockCodec.Quantize(DType.Q8_0, w, bytes);
        var q = new sbyte[k];
        var d = new float[k / 32];
        fixed (byte* pw = bytes)
        fixed (float* px = x)
        fixed (sbyte* pq = q)
        fixed (float* pd = d)
        {
            Q8_0Inputs.QuantizeSigned(px, k, pq, pd, vector: true);
            var activations = new Q8_0Activations(pq, pd);
            float fused = QuantDot.Dot(DType.Q8_0, pw, activations, k, CpuKernels.Best), scalar = QuantDot.Q8_0Scalar(pw, activations, k);
            Assert.True(Math.Abs(fused - scalar) <= 1e-5 * Math.Max(1, Math.Abs(scalar)), $"{fused} vs {scalar}");
        }
    }
}
