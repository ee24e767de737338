using Bamba.Backends.Cuda;
using Bamba.Configuration;
using Bamba.Modeling;

namespace Bamba.Cuda.Tests.Kernels;

/// <summary>
/// The device router against the CPU's <see cref="ExpertRouter"/> on the same float32 logits, and the device's
/// grouping of slots by expert against a stable sort on the host.
/// </summary>
public class ExpertRoutingTests(ITestOutputHelper output)
{
    public static TheoryData<string> Routers() => new(Configs.Keys.Order());

    /// <summary>Granite's and Nemotron-H's routers, with the group limit, a correction bias and scaling.</summary>
    private static readonly Dictionary<string, BambaConfig> Configs = new()
    {
        ["softmax 64 top-6"] = Moe(64, 6),
        ["softmax 72 top-10"] = Moe(72, 10),
        ["softmax 4 top-1"] = Moe(4, 1),
        ["sigmoid 128 top-6"] = Moe(128, 6) with { RouterScoring = RouterScoring.SigmoidGrouped, RoutedScalingFactor = 2.5 },
        ["sigmoid 64 top-8, 8 groups keep 4"] = Moe(64, 8) with
        {
            RouterScoring = RouterScoring.SigmoidGrouped, RouterGroups = 8, RouterTopKGroups = 4, RoutedScalingFactor = 1.5,
        },
        ["sigmoid 6 top-3, 6 groups of one keep 3, unnormalised"] = Moe(6, 3) with
        {
            RouterScoring = RouterScoring.SigmoidGrouped, RouterGroups = 6, RouterTopKGroups = 3, NormalizeTopKWeights = false,
        },
    };

    private static BambaConfig Moe(int experts, int k) => new() { HiddenSize = 64, NumExperts = experts, NumExpertsPerToken = k };

    [Theory]
    [MemberData(nameof(Routers))]
    public void DeviceRoutingPicksTheCpuRoutersExpertsAndWeights(string name)
    {
        var ops = Gpu.Ops();
        var c = Configs[name];
        int rows = 300, e = c.NumExperts, k = c.NumExpertsPerToken;
        var random = new Random(name.Length);
        // Logits on a coarse grid, so a row holds many exact ties (and ties between groups' sums); every 7th row is all ties.
        var logits = new float[rows * e];
        for (int i = 0; i < logits.Length; i++) logits[i] = i / e % 7 == 0 ? 0.5f : random.Next(-8, 9) / 4f;
        var bias = c.RouterScoring == RouterScoring.SoftmaxTopK ? [] : Enumerable.Range(0, e).Select(_ => random.Next(-2, 3) / 8f).ToArray();
        var expected = ExpertRouter.Route(c, logits, bias, rows);

        using var logitsOnDevice = Gpu.F32(logits);
        using var biasOnDevice = bias.Length > 0 ? Gpu.F32(bias) : null;
        using var experts = ops.Device.Allocate(4L * rows * k);
        using var weights = ops.Device.Allocate(4L * rows * k);
        ops.Route(c, logitsOnDevice.Pointer, biasOnDevice?.Pointer ?? 0, experts.Pointer, weights.Pointer, rows);

        Assert.Equal(expected.Experts, ops.Device.Download<int>(experts.Pointer, rows * k));
        var actual = ops.Device.Download<float>(weights.Pointer, rows * k);
        // Both sides' exp is the correctly rounded one almost always; allow its last bit to differ once in a while.
        int worst = expected.Weights.Zip(actual, (a, b) => Math.Abs(BitConverter.SingleToInt32Bits(a) - BitConverter.SingleToInt32Bits(b))).Max();
        output.WriteLine($"{name}: weights differ by at most {worst} ulp");
        Assert.True(worst <= 2, $"{name}: a weight differs from the CPU router's by {worst} ulp");
    }

    [Theory]
    [InlineData(1, 6, 64)]      // decode: one row
    [InlineData(300, 6, 64)]    // several tiles for some experts, none for others
    [InlineData(1000, 10, 72)]
    public void SlotsGroupByExpertInSlotOrder(int rows, int k, int numExperts)
    {
        var ops = Gpu.Ops();
        var random = new Random(rows);
        int slots = rows * k;
        // Skewed: expert 0 takes about a third of the slots, the last expert none.
        var ids = Enumerable.Range(0, slots).Select(_ => random.Next(3) == 0 ? 0 : random.Next(1, numExperts - 1)).ToArray();
        using var experts = Gpu.I32(ids);
        var g = ops.GroupByExpert(experts.Pointer, slots, numExperts);

        var sorted = Enumerable.Range(0, slots).OrderBy(s => ids[s]).ThenBy(s => s).ToArray();
        var counts = Enumerable.Range(0, numExperts).Select(e => ids.Count(id => id == e)).ToArray();
        int[] offsets = [0, .. counts.Select((_, e) => counts.Take(e + 1).Sum())];
        int[] tiles = [0, .. counts.Select((_, e) => counts.Take(e + 1).Sum(n => (n + KernelConstants.MoeTileM - 1) / KernelConstants.MoeTileM))];
        var positions = new int[slots];
        for (int p = 0; p < slots; p++) positions[sorted[p]] = p;

        Assert.Equal(offsets, ops.Device.Download<int>(g.Offsets, numExperts + 1));
        Assert.Equal(tiles, ops.Device.Download<int>(g.TileStart, numExperts + 1));
        Assert.Equal(sorted, ops.Device.Download<int>(g.SortedSlots, slots));
        Assert.Equal(positions, ops.Device.Download<int>(g.Positions, slots));
    }
}
