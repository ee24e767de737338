using Bamba.Backends.Cpu;

namespace Bamba.Tests.Backends;

/// <summary>
/// <see cref="AttentionKernel"/> against a double-precision softmax attention on every instruction set the machine
/// has: the blocked prefill path (8+ queries, odd head dims, cached keys before the new ones, padding keys, a query
/// block tail) and the per-pair decode path (fewer queries).
/// </summary>
[Collection(InstructionSets.Name)]
public class AttentionInstructionSetTests
{
    private static readonly (int Heads, int KvHeads, int HeadDim, int Steps, int Cached)[] Shapes =
    [
        (4, 2, 8, 8, 8), (2, 1, 3, 9, 20), (16, 4, 64, 70, 70), (6, 3, 33, 40, 75), (4, 4, 16, 1, 13), (2, 2, 5, 3, 3),
    ];

    public static TheoryData<CpuInstructionSet, int> Cases()
    {
        var data = new TheoryData<CpuInstructionSet, int>();
        foreach (var set in InstructionSets.Supported)
            for (int i = 0; i < Shapes.Length; i++) data.Add(set, i);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AttentionMatchesNaiveSoftmax(CpuInstructionSet set, int shapeIndex)
    {
        var (heads, kvHeads, d, steps, cached) = Shapes[shapeIndex];
        var shape = new AttentionKernel.Shape(heads, kvHeads, d);
        var r = new Random(shapeIndex);
        var q = CpuKernelTests.RandomFloats(r, steps * shape.QueryWidth, 2f);
        var keys = CpuKernelTests.RandomFloats(r, cached * shape.KvWidth, 2f);
        var values = CpuKernelTests.RandomFloats(r, cached * shape.KvWidth);
        var padding = Enumerable.Range(0, cached).Select(j => j % 7 == 2).ToArray();
        var output = new float[steps * shape.QueryWidth];
        InstructionSets.With(set, () => AttentionKernel.Forward(shape, q, steps, keys, values, padding, output));
        Tolerance.AssertClose(Naive(shape, q, steps, keys, values, padding), output, 1e-5, $"{set} attention shape {shapeIndex}");
    }

    private static float[] Naive(AttentionKernel.Shape s, float[] q, int steps, float[] keys, float[] values, bool[] padding)
    {
        int cached = padding.Length, d = s.HeadDim;
        var output = new float[steps * s.QueryWidth];
        for (int t = 0; t < steps; t++)
            for (int h = 0; h < s.Heads; h++)
            {
                int kvh = h / (s.Heads / s.KvHeads), visible = cached - steps + t + 1;
                var weights = new double[visible];
                for (int j = 0; j < visible; j++)
                {
                    if (padding[j]) { weights[j] = double.NegativeInfinity; continue; }
                    double dot = 0;
                    for (int i = 0; i < d; i++) dot += (double)q[t * s.QueryWidth + h * d + i] * keys[j * s.KvWidth + kvh * d + i];
                    weights[j] = dot / Math.Sqrt(d);
                }
                double max = weights.Max(), sum = weights.Sum(w => Math.Exp(w - max));
                if (double.IsNegativeInfinity(max)) continue;
                for (int i = 0; i < d; i++)
                {
                    double acc = 0;
                    for (int j = 0; j < visible; j++) acc += Math.Exp(weights[j] - max) / sum * values[j * s.KvWidth + kvh * d + i];
                    output[t * s.QueryWidth + h * d + i] = (float)acc;
                }
            }
        return output;
    }
}
