namespace Bamba.Backends.Cuda;

/// <summary>
/// The sizes both the kernels and their launchers depend on (tiles, warps per block, limits). This is their one
/// source: the .cu files get them as NVRTC <c>-D</c> definitions (<see cref="Defines"/>) and define none themselves.
/// </summary>
internal static class KernelConstants
{
    public const int SsdOut = 64;                 // SSD_OUT: the chunk kernels' output tile; SSD_MMA_T: rows t per block
    public const int SsdMmaHeadDim = 64;          // SSD_MMA_P: the head dim the tensor-core chunk kernel takes
    public const int SsdStepWarps = 8;            // SSD_STEP_WARPS
    public const int SsdStepRows = 4;             // SSD_STEP_ROWS: state rows per warp in the decode step
    public const int MaxStateSize = 256;          // 32 lanes × SSD_STEP_MAX_PER_LANE
    public const int AttentionWarps = 4;          // ATTN_WARPS
    public const int AttentionTile = 32;          // ATTN_TILE
    public const int AttentionTileMaxHeadDim = 128; // ATTN_TILE_MAX_HEAD_DIM
    public const int AttentionMmaTile = 64;       // ATTN_MMA_QUERIES (16 per warp, 4 warps) and ATTN_MMA_KEYS
    public const int AttentionMmaHeadDim = 128;   // ATTN_MMA_HEAD_DIM: fixed, so fragment arrays stay in registers
    public const int MaxHeadDim = 256;            // ATTN_MAX_HEAD_DIM; also the SSD kernels' limit on P
    public const int SampleThreads = 1024;        // SAMPLE_THREADS
    public const int CombineThreads = 128;        // COMBINE_THREADS
    public const int ConvSteps = 16;              // CONV_STEPS
    public const int GemvWarps = 8;               // GEMV_WARPS
    public const int GemvMaxRows = 4;             // GEMV_MAX_ROWS
    public const int KvBlock = 64;                // KV_BLOCK: tokens per paged-KV block, a multiple of every prefill key tile
    public const int MoeMaxExperts = 512;         // MOE_MAX_EXPERTS: the device router's shared row of scores
    public const int MoeMaxTopK = 32;             // MOE_MAX_TOPK: experts per token the device router picks at most
    public const int MoeMaxGroups = 32;           // MOE_MAX_GROUPS: router groups (a lane each)
    public const int MoeTileM = 128;              // MOE_TILE_M: rows of the grouped GEMM's tile; experts' row tiles
    public const int MoeDownWarps = 4;            // MOE_DOWN_WARPS: warps (output columns) per block of the routed down GEMV
    public const int MoeGemmStages = 3;           // MOE_GEMM_STAGES: the grouped GEMM's shared buffers of 32 of k

    /// <summary>The names the kernels use, with their values.</summary>
    public static IReadOnlyList<(string Name, int Value)> Named { get; } =
    [
        ("SSD_OUT", SsdOut), ("SSD_MMA_T", SsdOut), ("SSD_MMA_P", SsdMmaHeadDim), ("SSD_STEP_WARPS", SsdStepWarps),
        ("SSD_STEP_ROWS", SsdStepRows), ("SSD_STEP_MAX_PER_LANE", MaxStateSize / 32), ("ATTN_WARPS", AttentionWarps),
        ("ATTN_TILE", AttentionTile), ("ATTN_TILE_MAX_HEAD_DIM", AttentionTileMaxHeadDim), ("ATTN_MMA_QUERIES", AttentionMmaTile),
        ("ATTN_MMA_KEYS", AttentionMmaTile), ("ATTN_MMA_HEAD_DIM", AttentionMmaHeadDim), ("ATTN_MAX_HEAD_DIM", MaxHeadDim),
        ("SAMPLE_THREADS", SampleThreads), ("COMBINE_THREADS", CombineThreads), ("CONV_STEPS", ConvSteps),
        ("GEMV_WARPS", GemvWarps), ("GEMV_MAX_ROWS", GemvMaxRows), ("KV_BLOCK", KvBlock), ("MOE_MAX_EXPERTS", MoeMaxExperts),
        ("MOE_MAX_TOPK", MoeMaxTopK), ("MOE_MAX_GROUPS", MoeMaxGroups), ("MOE_TILE_M", MoeTileM), ("MOE_GEMM_STAGES", MoeGemmStages), ("MOE_DOWN_WARPS", MoeDownWarps),
    ];

    public static IEnumerable<string> Defines => Named.Select(c => $"{c.Name}={c.Value}");
}
