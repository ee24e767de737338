using static Bamba.Backends.Cuda.KernelConstants;
using Bamba.Configuration;

namespace Bamba.Backends.Cuda;

/// <summary>
/// Routed experts on the device (Kernels/experts.cu): the router's top-k, the slots grouped by expert, and the experts'
/// MLPs, without a copy to or from the host. Every launch's shape follows from the row count, k and the model's sizes,
/// never from the routing, so a decode step with experts can be captured in a CUDA graph. A slot is one (row, choice)
/// pair, <c>row · k + j</c>.
/// </summary>
public sealed partial class CudaOps
{
    /// <summary>
    /// One layer's routed experts as the kernels find them: device tables of each expert's gate|up (or up) matrix
    /// pointer and down matrix pointer, all plain matrices in the activation type; <paramref name="Inter"/> an
    /// expert's hidden width.
    /// </summary>
    public readonly record struct ExpertTables(ulong Up, ulong Down, int Inter, bool Gated);

    /// <summary>The slots sorted by expert: expert e's are <c>SortedSlots[Offsets[e]..Offsets[e+1])</c> in slot order,
    /// <c>Positions[slot]</c> where each went, and <c>TileStart[e]</c> its first row tile of the grouped GEMM.</summary>
    public readonly record struct ExpertGroups(ulong Offsets, ulong TileStart, ulong SortedSlots, ulong Positions);

    /// <summary>Whether the device kernels take this model's routing and expert widths (the router's shared row, a lane
    /// per group, 16-byte rows).</summary>
    public static bool RoutesOnDevice(BambaConfig c) => c.NumExperts <= MoeMaxExperts && c.NumExpertsPerToken <= MoeMaxTopK
        && c.RouterGroups <= MoeMaxGroups && c.HiddenSize % 8 == 0 && c.ExpertIntermediateSize % 8 == 0;

    /// <summary>
    /// The router's float32 logits [rows, E] of activation rows <paramref name="x"/> against its float32 matrix
    /// [E, hidden]: decode rows in one GEMV launch, more rows widened to float32 then one cuBLASLt product.
    /// </summary>
    public ulong RouterLogits(ulong x, DeviceMatrix router, int rows)
    {
        int e = router.Rows, hidden = router.Cols;
        ulong logits = Scratch.Get("router", 4L * rows * e);
        if (rows <= GemvMaxRows && hidden % 8 == 0)
        {
            Launch("moe_router_gemv", Dim3.Of(rows, (e + GemvWarps - 1) / GemvWarps), 32 * GemvWarps, 0, x, router.Data, logits, hidden, e);
            return logits;
        }
        ulong input = x;
        if (Precision != CudaPrecision.Float32)
        {
            input = Scratch.Get("router.in", 4L * rows * hidden);
            ActToF32(x, input, (long)rows * hidden);
        }
        Gemm.Linear(input, router.Data, logits, rows, e, hidden, CudaPrecision.Float32);
        Profile?.Mark($"cublasLt {e}x{hidden}");
        return logits;
    }

    /// <summary>
    /// <see cref="Modeling.ExpertRouter.Route"/> on the device: float32 logits [rows, E] (and the choice bias, 0 for
    /// none) → int experts and float32 weights, [rows, k] each, the CPU router's choices and weights.
    /// </summary>
    public void Route(BambaConfig c, ulong logits, ulong bias, ulong experts, ulong weights, int rows)
    {
        if (c.RouterScoring == RouterScoring.SoftmaxTopK)
            Launch("route_softmax_topk", rows, 32, 0, logits, experts, weights, c.NumExperts, c.NumExpertsPerToken);
        else
            Launch("route_sigmoid_grouped", rows, 32, 0, logits, bias, experts, weights, c.NumExperts, c.NumExpertsPerToken,
                c.RouterGroups, c.RouterTopKGroups, c.NormalizeTopKWeights ? 1 : 0, (float)c.RoutedScalingFactor);
    }

    /// <summary>A counting sort of <paramref name="slots"/> expert ids (int [slots]) by expert, in scratch.</summary>
    public ExpertGroups GroupByExpert(ulong experts, int slots, int numExperts)
    {
        ulong counts = Scratch.Get("moe.counts", 4L * numExperts);
        var g = new ExpertGroups(Scratch.Get("moe.offsets", 4L * (numExperts + 1)), Scratch.Get("moe.tiles", 4L * (numExperts + 1)),
            Scratch.Get("moe.sorted", 4L * slots), Scratch.Get("moe.positions", 4L * slots));
        Launch("moe_count", numExperts, Block, 0, experts, slots, counts);
        Launch("moe_scatter", numExperts, Block, 0, experts, slots, counts, numExperts, g.Offsets, g.TileStart, g.SortedSlots, g.Positions);
        return g;
    }

    /// <summary>
    /// Decode rows: <c>output[r] = Σ_j weights[r, j] · expert_{experts[r, j]}(x[r]) (+ shared[r])</c>, each slot's GEMVs
    /// reading only its expert's rows, the sum over j in order. Any row count works (the fp32 parity mode uses it for
    /// prefill too); each row reads its experts' weights again, so many rows take <see cref="ExpertsGrouped"/>.
    /// </summary>
    public void ExpertsGemv(ExpertTables t, ulong x, ulong experts, ulong weights, ulong shared, ulong output, int rows, int k, int hidden)
    {
        int slots = rows * k;
        ulong h = Scratch.Get("moe.hidden", (long)slots * t.Inter * ActBytes);
        Launch("moe_up_gemv", Dim3.Of(slots, (t.Inter + GemvWarps - 1) / GemvWarps), 32 * GemvWarps, 0,
            x, hidden, experts, k, t.Up, h, t.Inter, t.Gated ? 1 : 0);
        Launch("moe_down_gemv", Dim3.Of(rows, (hidden + MoeDownWarps - 1) / MoeDownWarps), 32 * MoeDownWarps, 0,
            h, t.Inter, experts, weights, k, t.Down, shared, output, hidden);
    }

    /// <summary>
    /// Prefill rows in bf16: the slots grouped by expert, each expert's rows through gate|up and down as tensor-core
    /// GEMM tiles (one launch per product for all experts), the activation between, then each token's weighted sum
    /// over its k outputs in order (+ shared). The same result as <see cref="ExpertsGemv"/> but for the sums' order.
    /// </summary>
    public void ExpertsGrouped(ExpertTables t, int numExperts, ulong x, ulong experts, ulong weights, ulong shared, ulong output,
        int rows, int k, int hidden)
    {
        if (Precision != CudaPrecision.BFloat16) throw new InvalidOperationException("the grouped expert GEMM is bf16 only");
        int slots = rows * k, inter = t.Inter, upWidth = t.Gated ? 2 * inter : inter;
        var g = GroupByExpert(experts, slots, numExperts);
        // Each expert's partial last tile adds at most one to the full tiles of all slots.
        int tiles = (slots + MoeTileM - 1) / MoeTileM + Math.Min(numExperts, slots);
        ulong up = Scratch.Get("moe.up", (long)slots * upWidth * ActBytes);
        GroupedGemm(x, g.SortedSlots, k, t.Up, g, numExperts, up, upWidth, hidden, tiles);
        ulong h = up;
        if (t.Gated)
        {
            h = Scratch.Get("moe.hidden", (long)slots * inter * ActBytes);
            // The SwiGLU kernel's rows are its grid's y: at most 65535 a launch.
            for (int r0 = 0; r0 < slots; r0 += 65535)
                SwiGlu(up + (ulong)((long)r0 * upWidth * ActBytes), h + (ulong)((long)r0 * inter * ActBytes), Math.Min(65535, slots - r0), inter);
        }
        else SquaredRelu(up, (long)slots * inter);
        ulong y = Scratch.Get("moe.y", (long)slots * hidden * ActBytes);
        GroupedGemm(h, 0, k, t.Down, g, numExperts, y, hidden, inter, tiles);
        Launch("moe_combine", Dim3.Of(rows, Blocks(hidden)), Block, 0, y, g.Positions, weights, k, shared, output, hidden);
    }

    /// <summary>The grouped GEMM's shared memory: per stage, 128 rows of each operand (MOE_TILE_M of the slots' rows,
    /// 128 of the weights'), each row 32 bf16 of k padded to 40.</summary>
    private const int GroupedGemmShared = MoeGemmStages * (MoeTileM + 128) * 40 * 2;

    private void GroupedGemm(ulong a, ulong sortedSlots, int topK, ulong table, ExpertGroups g, int numExperts, ulong c, int n, int kdim, int tiles) =>
        Launch("moe_grouped_gemm", Dim3.Of((n + 127) / 128, tiles), 256, GroupedGemmShared,
            a, sortedSlots, topK, table, g.Offsets, g.TileStart, numExperts, c, n, kdim);
}
