using static Bamba.Backends.Cuda.KernelConstants;
using System.Numerics;
using Bamba.Configuration;
using Bamba.Weights;

namespace Bamba.Backends.Cuda;

/// <summary>
/// The CUDA backend's operations: each method launches the kernel of the same name (Kernels/*.cu) on the device's
/// stream. Pointers are device addresses; "act" buffers hold the precision's activation type (float or bf16),
/// everything else is float32 unless named otherwise. Shapes follow the CPU twins in Bamba.Backends.Cpu.
/// </summary>
public sealed partial class CudaOps : IDisposable
{
    private const int Block = 256;
    private const int MaxConvKernel = 4;       // CONV_MAX_K in conv.cu
    private const int SplitDecodeMinKeys = 64; // one-query attention over at least this many keys splits them over warps
    private const int DecodeMinKeysPerSplit = 32; // the batched decode's shortest key range (a few chunks of a warp)

    private readonly KernelModule _module;

    /// <param name="bf16SsmState">Keep the sequences' SSM state in bf16 (bf16 precision only): half the state traffic of
    /// a large decode batch, at the cost of rounding the state at every step. Float32 by default.</param>
    public CudaOps(CudaDevice device, CudaPrecision precision, bool bf16SsmState = false)
    {
        if (bf16SsmState && precision != CudaPrecision.BFloat16) throw new BambaException("a bf16 SSM state needs --precision bf16");
        Device = device;
        Precision = precision;
        StateBytes = bf16SsmState ? 2 : 4;
        string source = KernelCompiler.KernelSource();
        var cubin = KernelCompiler.CompileCached(source, "bamba_kernels.cu", device.Architecture,
            [$"ACT_BF16={(precision == CudaPrecision.BFloat16 ? 1 : 0)}", $"STATE_BF16={(bf16SsmState ? 1 : 0)}", .. KernelConstants.Defines]);
        _module = KernelModule.Load(device, cubin, KernelCompiler.ProgrammaticKernels(source));
        Gemm = new CublasLtGemm(device);
        Scratch = new DeviceScratch(device);
    }

    public CudaDevice Device { get; }
    public CudaPrecision Precision { get; }
    public CublasLtGemm Gemm { get; }
    public DeviceScratch Scratch { get; }
    /// <summary>Bytes per activation element.</summary>
    public int ActBytes => Precision == CudaPrecision.BFloat16 ? 2 : 4;
    /// <summary>Bytes per element of the sequences' SSM state.</summary>
    public int StateBytes { get; }

    internal static int Blocks(long n, int block = Block) => checked((int)Math.Min((n + block - 1) / block, 65535L * 16));

    /// <summary>When set, every launch is marked in it (bench --profile).</summary>
    internal Bench.KernelProfile? Profile { get; set; }

    internal void Launch(string kernel, Dim3 grid, Dim3 block, int shared, params ReadOnlySpan<KernelArg> args)
    {
        _module.Launch(kernel, grid, block, shared, args);
        Profile?.Mark(kernel);
    }

    // ---- conversions -------------------------------------------------------------------------------------------

    /// <summary>Stored weights (F32/BF16/F16) → activation type.</summary>
    public void ConvertToAct(ulong src, DType dtype, ulong dst, long n) => Launch("convert_to_act", Blocks(n), Block, 0, src, (int)dtype, dst, n);

    public void ConvertToF32(ulong src, DType dtype, ulong dst, long n) => Launch("convert_to_f32", Blocks(n), Block, 0, src, (int)dtype, dst, n);

    /// <summary>Uniform values in [−scale, scale): a synthetic model's matrices, made on the device.</summary>
    public void FillUniform(ulong dst, long n, ulong seed, float scale) => Launch("fill_uniform_act", Blocks(n), Block, 0, dst, n, seed, scale);

    public void ActToF32(ulong src, ulong dst, long n) => Launch("act_to_f32", Blocks(n), Block, 0, src, dst, n);

    // ---- element-wise ------------------------------------------------------------------------------------------

    /// <summary>Rows of the activation-typed table, times <paramref name="scale"/>, into the float32 residual stream.</summary>
    public void Embedding(ulong tokens, ulong table, ulong output, int rows, int hidden, float scale = 1f) =>
        Launch("embedding", Dim3.Of(Blocks(hidden), rows), Block, 0, tokens, table, output, hidden, scale);

    /// <summary>Float32 residual x += scale · activation-typed y.</summary>
    public void AddResidual(ulong x, ulong y, long n, float scale = 1f) => Launch("add_residual", Blocks(n), Block, 0, x, y, n, scale);

    /// <summary>x = relu(x)² in place (activation type).</summary>
    public void SquaredRelu(ulong x, long n) => Launch("squared_relu", Blocks(n), Block, 0, x, n);

    /// <summary>Activation-typed rows <c>x[rows[i]]</c> into <paramref name="output"/> [count, width].</summary>
    public void GatherActRows(ulong x, int width, ulong rowIndices, ulong output, int count) =>
        Launch("gather_act_rows", Dim3.Of(Blocks(width), count), Block, 0, x, width, rowIndices, output);

    /// <summary>Float32 <c>acc[rows[i]] += weights[i] · y[i]</c> (one expert's outputs back to their tokens).</summary>
    public void ScatterAddWeighted(ulong acc, ulong y, int width, ulong rowIndices, ulong weights, int count) =>
        Launch("scatter_add_weighted", Dim3.Of(Blocks(width), count), Block, 0, acc, y, width, rowIndices, weights);

    /// <summary>Activation-typed <c>out = acc + shared</c> (shared 0: none).</summary>
    public void ExpertsFinish(ulong acc, ulong shared, ulong output, long n) => Launch("experts_finish", Blocks(n), Block, 0, acc, shared, output, n);

    public void AddBias(ulong y, ulong bias, int rows, int width) => Launch("add_bias", Dim3.Of(Blocks(width), rows), Block, 0, y, bias, width);

    public void SwiGlu(ulong gateUp, ulong output, int rows, int inter)
    {
        int per = inter % 8 == 0 ? 8 : 1;
        Launch("swiglu", Dim3.Of(Blocks(inter / per), rows), Block, 0, gateUp, output, inter, per);
    }

    public void ZeroPaddingRows(ulong x, int stride, int width, ulong positions, int rows) =>
        Launch("zero_padding_rows", Dim3.Of(Blocks(width), rows), Block, 0, x, stride, width, positions);

    /// <summary>Float32 rows of the residual stream.</summary>
    public void GatherRows(ulong x, int width, ulong rowIndices, ulong output, int count) =>
        Launch("gather_rows", Dim3.Of(Blocks(width), count), Block, 0, x, width, rowIndices, output);

    // ---- norms -------------------------------------------------------------------------------------------------

    /// <summary>Threads per row of the norms: a warp per 8 elements, at least one block of <see cref="Block"/>, at most 1024.</summary>
    private static int NormBlock(int width) => Math.Clamp((width / 8 + 31) / 32 * 32, Block, 1024);

    /// <summary>Float32 residual rows → activation-typed normalised rows.</summary>
    public void RmsNorm(ulong x, ulong weight, ulong y, int rows, int width, float eps) =>
        Launch("rmsnorm", rows, NormBlock(width), 0, x, weight, y, width, eps);

    /// <summary>The residual add then the next norm: x += scale · delta (activation type); y = rmsnorm(x) · weight.</summary>
    public void AddRmsNorm(ulong x, ulong delta, ulong weight, ulong y, int rows, int width, float eps, float scale = 1f) =>
        Launch("add_rmsnorm", rows, NormBlock(width), 0, x, delta, weight, y, width, eps, scale);

    /// <summary>In place on y [rows, width]; z is read with row stride <paramref name="zStride"/>.</summary>
    public void GatedRmsNorm(ulong y, ulong z, int zStride, ulong weight, int rows, int width, int group, float eps)
    {
        if (width % group != 0) throw new ArgumentException("gated norm: width must be a multiple of the group size");
        Launch("gated_rmsnorm", Dim3.Of(rows, width / group), NormBlock(group), 0, y, z, zStride, weight, width, group, eps);
    }

    // ---- causal conv -------------------------------------------------------------------------------------------

    /// <summary>Conv + SiLU over one run, then the window update (the CPU twin's <c>CausalConv.Forward</c> + SiLU).</summary>
    public void CausalConvRun(ulong input, int inStride, ulong window, ulong weight, ulong bias, ulong output, ulong positions,
        int steps, int channels, int kernel)
    {
        CheckConv(kernel);
        int per = channels % 8 == 0 && inStride % 8 == 0 && (input | output) % 16 == 0 ? 8 : 1;
        Launch("conv1d_prefill", Dim3.Of(Blocks(channels / per), (steps + ConvSteps - 1) / ConvSteps), Block, 0,
            input, inStride, window, weight, bias, output, positions, steps, channels, kernel, per);
        Launch("conv_window_update", Blocks(channels), Block, 0, input, inStride, window, steps, channels, kernel);
    }

    /// <summary>One step for <paramref name="rows"/> sequences; <paramref name="windows"/> is a device table of window pointers.</summary>
    public void CausalConvStep(ulong input, int inStride, ulong windows, ulong weight, ulong bias, ulong output, ulong positions,
        int rows, int channels, int kernel) =>
        Launch("conv1d_step", Dim3.Of(Blocks(channels), rows), Block, 0, input, inStride, windows, weight, bias, output, positions, channels, kernel);

    // ---- SSD ---------------------------------------------------------------------------------------------------

    public readonly record struct SsdShape(int Heads, int HeadDim, int Groups, int StateSize, int ChunkSize)
    {
        public int Inner => Heads * HeadDim;
        public int ConvDim => Inner + 2 * Groups * StateSize;
        public int StateElements => HeadDim * StateSize;
    }

    public void SsdDt(ulong proj, int projStride, int dtColumn, ulong dtBias, ulong dt, int rows, int heads, float lo, float hi) =>
        Launch("ssd_dt", Blocks((long)rows * heads), Block, 0, proj, projStride, dtColumn, dtBias, dt, rows, heads, lo, hi);

    /// <summary>
    /// The chunked SSD over one run: <paramref name="y"/> [steps, Inner] (D skip included) from xbc [steps, ConvDim]
    /// and dt [steps, Heads]; <paramref name="state"/> [Heads, HeadDim, StateSize] (<see cref="StateBytes"/> per element) goes from initial to final.
    /// </summary>
    public void SsdChunked(SsdShape s, ulong xbc, ulong dt, ulong a, ulong d, ulong state, ulong y, int steps)
    {
        CheckSsd(s);
        int chunks = (steps + s.ChunkSize - 1) / s.ChunkSize, pn = s.StateElements;
        ulong dAcs = Scratch.Get("ssd.dA_cs", 4L * s.Heads * steps);
        ulong cb = Scratch.Get("ssd.cb", 4L * chunks * s.Groups * s.ChunkSize * s.ChunkSize);
        ulong added = Scratch.Get("ssd.added", 4L * chunks * s.Heads * pn);
        ulong states = Scratch.Get("ssd.states", 4L * chunks * s.Heads * pn);
        // bf16 with Bamba's shapes: the chunk products on the tensor cores; otherwise the CUDA-core kernels.
        bool mma = Precision == CudaPrecision.BFloat16 && s.HeadDim == SsdMmaHeadDim && s.StateSize % 16 == 0 && s.ChunkSize % SsdOut == 0
            && s.ConvDim % 8 == 0;
        int tTiles = (s.ChunkSize + SsdOut - 1) / SsdOut, pTiles = (s.HeadDim + SsdOut - 1) / SsdOut, nTiles = (s.StateSize + SsdOut - 1) / SsdOut;
        Launch("ssd_chunk_cumsum", Blocks((long)chunks * s.Heads, 4), 128, 0, dt, a, dAcs, steps, s.Heads, s.ChunkSize);
        if (mma)
        {
            Launch("ssd_chunk_cb_mma", Dim3.Of(chunks * s.Groups, tTiles, tTiles), 128, 2 * 2 * SsdOut * (s.StateSize + 8),
                xbc, s.ConvDim, cb, steps, s.Inner, s.Groups, s.StateSize, s.ChunkSize);
            Launch("ssd_chunk_state_mma", Dim3.Of(chunks, s.Heads, (s.StateSize + 127) / 128), 128, 0,
                xbc, s.ConvDim, dt, dAcs, added, steps, s.Heads, s.Groups, s.StateSize, s.ChunkSize);
        }
        else
        {
            Launch("ssd_chunk_cb", Dim3.Of(chunks * s.Groups, s.ChunkSize), 128, 0, xbc, s.ConvDim, cb, steps, s.Inner, s.Groups, s.StateSize, s.ChunkSize);
            Launch("ssd_chunk_state", Dim3.Of(chunks, s.Heads, pTiles * nTiles), Block, 0,
                xbc, s.ConvDim, dt, dAcs, added, steps, s.Heads, s.HeadDim, s.Groups, s.StateSize, s.ChunkSize);
        }
        Launch("ssd_state_passing", Dim3.Of(Blocks(pn), s.Heads), Block, 0, added, states, dAcs, state, steps, s.Heads, pn, s.ChunkSize);
        if (mma)
        {
            int shared = 2 * SsdOut * 4 + 2 * Math.Max(2 * SsdOut * (s.StateSize + 8), SsdOut * (s.HeadDim + 8));
            Launch("ssd_chunk_scan_mma", Dim3.Of(chunks, s.Heads, tTiles), 128, shared,
                xbc, s.ConvDim, dt, dAcs, cb, states, d, y, s.Inner, steps, s.Heads, s.Groups, s.StateSize, s.ChunkSize);
        }
        else
            Launch("ssd_chunk_scan", Dim3.Of(chunks, s.Heads, tTiles * pTiles), Block, 0,
                xbc, s.ConvDim, dt, dAcs, cb, states, d, y, s.Inner, steps, s.Heads, s.HeadDim, s.Groups, s.StateSize, s.ChunkSize);
    }

    /// <summary>Where a decode step's time steps come from: column <c>Column + h</c> of the in_proj rows, plus the bias, softplus, clamped.</summary>
    public readonly record struct DtSource(ulong Proj, int Stride, int Column, ulong Bias, float Low, float High);

    /// <summary>One recurrent step for <paramref name="rows"/> sequences; <paramref name="states"/> is a device table of state pointers.</summary>
    public void SsdStep(SsdShape s, ulong xbc, DtSource dt, ulong a, ulong d, ulong states, ulong y, int rows)
    {
        CheckSsd(s);
        Launch("ssd_step", Dim3.Of(s.Heads, (s.HeadDim + SsdStepWarps * SsdStepRows - 1) / (SsdStepWarps * SsdStepRows), rows), 32 * SsdStepWarps, 0,
            xbc, s.ConvDim, dt.Proj, dt.Stride, dt.Column, dt.Bias, dt.Low, dt.High, a, d, states, y, s.Inner, s.Heads, s.HeadDim, s.Groups, s.StateSize);
    }

    /// <summary>Refuses, before any weight is loaded, a model whose Mamba shape these kernels do not take.</summary>
    public static void CheckShapes(BambaConfig c)
    {
        CheckSsd(new SsdShape(c.MambaNHeads, c.MambaDHead, c.MambaNGroups, c.MambaDState, c.MambaChunkSize));
        CheckConv(c.MambaDConv);
    }

    private static void CheckConv(int kernel)
    {
        if (kernel > MaxConvKernel) throw new BambaException($"the CUDA conv kernel takes mamba_d_conv ≤ {MaxConvKernel}, got {kernel}");
    }

    private static void CheckSsd(SsdShape s)
    {
        if (s.HeadDim > MaxHeadDim || s.Heads % s.Groups != 0 || s.StateSize > MaxStateSize)
            throw new BambaException($"the CUDA SSD kernels need mamba_d_head ≤ {MaxHeadDim}, mamba_d_state ≤ {MaxStateSize} and heads divisible by groups (got {s.HeadDim}, {s.StateSize}, {s.Heads}/{s.Groups})");
    }

    // ---- attention ---------------------------------------------------------------------------------------------

    public void Rope(ulong x, int stride, ulong positions, ulong invFreq, int rows, int heads, int headDim, int rotaryDim)
    {
        if (rotaryDim == 0) return;
        Launch("rope", rows, Block, 0, x, stride, positions, invFreq, heads, headDim, rotaryDim);
    }

    /// <summary>
    /// One attention layer's view of the paged KV cache (<see cref="CudaKvPool"/>): its key and value blocks
    /// ([blocks][kv_heads][64][head_dim]) and the padding flags ([blocks][64], shared by the layers). A sequence's block
    /// table (a device int array) names its blocks in order.
    /// </summary>
    public readonly record struct KvPages(ulong Keys, ulong Values, ulong Padding);

    /// <summary>A run's keys and values (qkv rows) into positions <paramref name="start"/>.. of the sequence whose block
    /// table is <paramref name="table"/>, with each position's padding flag (position &lt; 0).</summary>
    public void KvAppend(ulong qkv, int stride, int kColumn, int vColumn, KvPages kv, ulong table, ulong positions, int start, int steps,
        int kvHeads, int headDim) =>
        Launch("kv_append", steps, Block, 0, qkv, stride, kColumn, vColumn, kv.Keys, kv.Values, kv.Padding, table, 0, positions, 0UL, start, kvHeads, headDim);

    /// <summary>
    /// Queries [steps, heads·headDim] (row stride qStride) over the first <paramref name="cached"/> positions of the
    /// sequence whose block table is <paramref name="table"/>, the run's own last. Scores are scaled by
    /// <paramref name="scale"/> (head_dim^−0.5 when null).
    /// </summary>
    public void Attention(ulong q, int qStride, KvPages kv, ulong table, ulong output, int outStride,
        int steps, int cached, int heads, int kvHeads, int headDim, float? scale = null)
    {
        if (headDim > MaxHeadDim || heads % kvHeads != 0)
            throw new BambaException($"the CUDA attention kernel needs head_dim ≤ {MaxHeadDim} and heads divisible by KV heads");
        float s = scale ?? DefaultScale(headDim);
        if (steps == 1 && cached >= SplitDecodeMinKeys)
        {
            // Flash-decoding: enough (head, key range) warps to cover every SM, then one combine per head.
            int target = 4 * Device.MultiprocessorCount;
            int splits = Math.Clamp((target + heads - 1) / heads, 1, (cached + 31) / 32);
            int perSplit = ((cached + splits - 1) / splits + 31) / 32 * 32;
            splits = (cached + perSplit - 1) / perSplit;
            ulong partial = Scratch.Get("attention.partial", 4L * heads * splits * (2 + headDim));
            Launch("attention_split", Blocks((long)heads * splits, AttentionWarps), 32 * AttentionWarps, 0,
                q, kv.Keys, kv.Values, kv.Padding, table, partial, cached, heads, kvHeads, headDim, s, splits, perSplit);
            Launch("attention_combine_batched", Dim3.Of(heads, 1), CombineThreads, 0, partial, output, 0, heads, headDim, splits);
            return;
        }
        if (Precision == CudaPrecision.BFloat16 && steps >= AttentionTile && headDim == AttentionMmaHeadDim)
        {
            // A prompt in bf16: both products of flash attention on the tensor cores.
            int shared = 2 * 3 * AttentionMmaTile * (headDim + 8);
            Launch("attention_mma", Dim3.Of((steps + AttentionMmaTile - 1) / AttentionMmaTile, heads), 128, shared,
                q, qStride, kv.Keys, kv.Values, kv.Padding, table, output, outStride, steps, cached, heads, kvHeads, s);
            return;
        }
        if (steps >= AttentionTile / 2 && headDim % 32 == 0 && headDim <= AttentionTileMaxHeadDim)
        {
            // A prompt: tiles of queries share each key and value row they load.
            int shared = 4 * 2 * AttentionTile * (headDim + 4);
            Launch("attention_tiled", Dim3.Of((steps + AttentionTile - 1) / AttentionTile, heads), 256, shared,
                q, qStride, kv.Keys, kv.Values, kv.Padding, table, output, outStride, steps, cached, heads, kvHeads, headDim, s);
            return;
        }
        Launch("attention", Blocks((long)steps * heads, AttentionWarps), 32 * AttentionWarps, 0,
            q, qStride, kv.Keys, kv.Values, kv.Padding, table, output, outStride, steps, cached, heads, kvHeads, headDim, s);
    }

    private static float DefaultScale(int headDim) => 1f / MathF.Sqrt(headDim);

    public const int MaxGroup = 8; // the widest attention_decode_batched_gN in attention.cu

    /// <summary>
    /// One row per sequence (row b of qkv) into position <c>cached[b]</c> of sequence b, whose block table is row b of
    /// <paramref name="tables"/> (<paramref name="tableStride"/> ints a row), with its padding flag (position &lt; 0).
    /// </summary>
    public void KvAppendBatched(ulong qkv, int stride, int kColumn, int vColumn, KvPages kv, ulong tables, int tableStride,
        ulong positions, ulong cached, int batch, int kvHeads, int headDim) =>
        Launch("kv_append", batch, Block, 0, qkv, stride, kColumn, vColumn, kv.Keys, kv.Values, kv.Padding, tables, tableStride, positions, cached, 0,
            kvHeads, headDim);

    /// <summary>
    /// One query per sequence (row b of q, stride qStride) over the first <c>lengths[b]</c> positions of sequence b
    /// (its own key last; block table row b of <paramref name="tables"/>), split over the keys so that batch × KV heads ×
    /// splits warps cover the GPU; output row b at <c>output + b · outStride</c>.
    /// </summary>
    public void AttentionDecodeBatched(ulong q, int qStride, KvPages kv, ulong tables, int tableStride, ulong lengths, int maxLength,
        ulong output, int outStride, int batch, int heads, int kvHeads, int headDim, float? scale = null)
    {
        if (headDim > MaxHeadDim || headDim % 8 != 0 || heads % kvHeads != 0 || heads / kvHeads > MaxGroup)
            throw new BambaException($"the CUDA decode attention kernel needs head_dim ≤ {MaxHeadDim} and a multiple of 8, and ≤ {MaxGroup} query heads per KV head");
        var (splits, perSplit) = DecodeSplits(batch * kvHeads, maxLength);
        ulong partial = Scratch.Get("attention.partial", 4L * batch * heads * splits * (2 + headDim));
        int group = (int)BitOperations.RoundUpToPowerOf2((uint)(heads / kvHeads));
        int lanesPerRow = (int)BitOperations.RoundUpToPowerOf2((uint)(headDim / 8));
        Launch($"attention_decode_batched_g{group}", Dim3.Of(Blocks((long)kvHeads * splits, AttentionWarps), batch), 32 * AttentionWarps, 0,
            q, qStride, kv.Keys, kv.Values, kv.Padding, tables, tableStride, lengths, partial, heads, kvHeads, headDim, scale ?? DefaultScale(headDim),
            splits, perSplit, lanesPerRow);
        Launch("attention_combine_batched", Dim3.Of(heads, batch), CombineThreads, 0, partial, output, outStride, heads, headDim, splits);
    }

    /// <summary>
    /// Key ranges of the batched decode: enough (sequence, KV head, range) warps for about sixteen 4-warp blocks per SM,
    /// several waves of what fits at once, so that the last wave's tail is short (a small batch gets many short ranges:
    /// each warp walks its range one chunk after another, so a long range would leave most of the GPU idle); but no
    /// range under <see cref="DecodeMinKeysPerSplit"/> keys, whose partial results would cost more than their keys.
    /// </summary>
    private (int Splits, int PerSplit) DecodeSplits(int warpsPerSplit, int maxLength)
    {
        int target = 16 * Device.MultiprocessorCount * AttentionWarps;
        int splits = Math.Clamp((target + warpsPerSplit - 1) / warpsPerSplit, 1, (maxLength + DecodeMinKeysPerSplit - 1) / DecodeMinKeysPerSplit);
        int perSplit = ((maxLength + splits - 1) / splits + DecodeMinKeysPerSplit - 1) / DecodeMinKeysPerSplit * DecodeMinKeysPerSplit;
        return ((maxLength + perSplit - 1) / perSplit, perSplit);
    }

    // ---- linear and sampling -----------------------------------------------------------------------------------


    /// <summary>
    /// <c>y[n, m] = x[n, k] · W[m, k]ᵀ</c> on activation-typed operands: in bf16 mode a few rows (decode) take the
    /// streaming GEMV kernel, everything else cuBLASLt. The fp32 parity mode always uses cuBLASLt.
    /// </summary>
    public void Linear(ulong x, ulong w, ulong y, int n, int m, int k)
    {
        if (GemvApplies(x, w, y, n, k)) Gemv(x, w, y, n, m, k);
        else
        {
            Gemm.Linear(x, w, y, n, m, k, Precision);
            Profile?.Mark($"cublasLt {m}x{k}");
        }
    }

    /// <summary>
    /// <c>y[n, out] += (x[n, in]·Aᵀ)·Bᵀ</c>: LoRA adapters beside the product just written into y (B carries alpha/r).
    /// The thin first product takes the plain-matrix Linear's path; the second accumulates into y (beta = 1). With
    /// adapters sequences pick (<see cref="CudaLowRank.Groups"/>), <paramref name="rowAdapters"/> (device ints [n]) says
    /// each row's, and the columns of the others are zeroed between the products.
    /// </summary>
    internal void AddLowRank(CudaLowRank lora, ulong x, ulong y, int n, ulong rowAdapters)
    {
        ulong low = Scratch.Get("lora.low", (long)n * lora.Rank * ActBytes);
        Linear(x, lora.A, low, n, lora.Rank, lora.Inputs);
        if (lora.Groups != 0)
        {
            if (rowAdapters == 0) throw new InvalidOperationException("adapters picked per sequence need each row's adapter");
            Launch("lora_keep_own_columns", Dim3.Of(Blocks(lora.Rank), n), Block, 0, low, lora.Rank, lora.Groups, rowAdapters);
        }
        Gemm.Matmul(new GemmShape(true, false, lora.Outputs, n, lora.Rank, lora.Rank, lora.Rank, lora.Outputs, Precision,
            F32Output: Precision == CudaPrecision.Float32), lora.B, low, y, 1f);
        Profile?.Mark($"lora {lora.Outputs}x{lora.Rank}");
    }

    /// <summary>
    /// <c>y[n, m] = x[n, k] · Wᵀ</c> for a matrix in any format: a plain one as above; a quantized one through its own
    /// GEMV for decode rows in bf16 mode (the weights stream in their stored bytes; a block format's activations are
    /// first rounded to int8 blocks of 32 with a scale each), otherwise dequantized into scratch in the activation type
    /// and multiplied by cuBLASLt (prefill, and every product in the fp32 parity mode).
    /// </summary>
    public void Linear(ulong x, DeviceMatrix w, ulong y, int n)
    {
        if (!w.IsQuantized)
        {
            if (w.Format != ActType) throw new ArgumentException($"a {w.Format} matrix in {Precision} mode: plain matrices are held in the activation type");
            Linear(x, w.Data, y, n, w.Rows, w.Cols);
            return;
        }
        if (Precision == CudaPrecision.BFloat16 && n <= GemvMaxRows && (x | y) % 16 == 0)
        {
            // The block formats meet int8 activations in dp4a steps (llama.cpp's CUDA GEMV does the same); FP8 reads them as they are.
            ulong xq = 0, xd = 0;
            if (w.Format != DType.F8_E4M3)
            {
                xq = Scratch.Get("gemv.xq", (long)n * w.Cols);
                xd = Scratch.Get("gemv.xd", 4L * n * (w.Cols / DeviceMatrix.Unit));
                Launch("quantize_rows_q8", Blocks((long)n * (w.Cols / DeviceMatrix.Unit), Block / 32), Block, 0, x, xq, xd, n, w.Cols);
            }
            // FP8 rows are one byte a value: half the bf16 GEMV's k gives each warp the same 2 KiB to stream.
            int split = GemvSplit(w.Format == DType.F8_E4M3 ? w.Cols / 2 : w.Cols, GemvWarps);
            Launch($"gemv_{DeviceMatrix.KernelName(w.Format)}", Blocks((long)w.Rows * split, GemvWarps), 32 * GemvWarps, 0,
                x, xq, xd, w.Data, w.RowScales, y, n, w.Rows, w.Cols, split);
            return;
        }
        ulong plain = Scratch.Get("dequantized", (long)w.Rows * w.Cols * ActBytes);
        Dequantize(w, plain);
        Gemm.Linear(x, plain, y, n, w.Rows, w.Cols, Precision);
        Profile?.Mark($"cublasLt {w.Rows}x{w.Cols}");
    }

    /// <summary>The activation type's stored dtype (BF16 or F32).</summary>
    public DType ActType => Precision == CudaPrecision.BFloat16 ? DType.BF16 : DType.F32;

    /// <summary>A quantized matrix's values into <paramref name="dst"/> [Rows, Cols] in the activation type (at run time).</summary>
    public void Dequantize(DeviceMatrix w, ulong dst) =>
        Launch($"dequant_act_{DeviceMatrix.KernelName(w.Format)}", Blocks((long)w.Rows * (w.Cols / 32)), Block, 0, w.Data, w.RowScales, dst, w.Rows, w.Cols);

    /// <summary>A quantized matrix's values into <paramref name="dst"/> in float32: weights at load time (an ordinary launch).</summary>
    public void DequantizeToF32(DeviceMatrix w, ulong dst) =>
        Launch($"dequant_f32_{DeviceMatrix.KernelName(w.Format)}", Blocks((long)w.Rows * (w.Cols / 32)), Block, 0, w.Data, w.RowScales, dst, w.Rows, w.Cols);

    /// <summary>
    /// A synthetic quantized matrix's bytes (benchmarks): random values, every block scale <paramref name="scale"/> and
    /// every K-quant minimum scale <paramref name="minScale"/>.
    /// </summary>
    public void FillQuantPlaceholder(ulong dst, DType format, long bytes, ulong seed, Half scale, Half minScale) =>
        Launch("fill_quant_placeholder", Blocks(bytes), Block, 0, dst, (int)format, bytes, seed,
            (int)BitConverter.HalfToUInt16Bits(scale), (int)BitConverter.HalfToUInt16Bits(minScale));

    private bool GemvApplies(ulong x, ulong w, ulong y, int n, int k) =>
        Precision == CudaPrecision.BFloat16 && n <= GemvMaxRows && k % 8 == 0 && (x | w | y) % 16 == 0;

    /// <summary>The GEMV kernel on bf16 weights (k a multiple of 8, at most <see cref="GemvMaxRows"/> rows).</summary>
    public void Gemv(ulong x, ulong w, ulong y, int n, int m, int k)
    {
        if (!GemvApplies(x, w, y, n, k))
            throw new ArgumentException($"gemv needs bf16 weights, ≤ {GemvMaxRows} rows, k % 8 == 0 and 16-byte aligned buffers");
        int split = GemvSplit(k, GemvWarps);
        _module.Launch("gemv_bf16", Blocks((long)m * split, GemvWarps), 32 * GemvWarps, 0, x, w, y, n, m, k, split);
        Profile?.Mark($"gemv {m}x{k}");
    }

    /// <summary>
    /// The MLP's first half: <c>y = silu(gate) · up</c> with <c>[gate | up] = x · W[2·inter, k]ᵀ</c>. Decode rows take
    /// the GEMV with the SwiGLU fused into its output (the gate|up product never reaches memory; the same rounding);
    /// other shapes the product into scratch, then the element-wise SwiGLU.
    /// </summary>
    public void LinearSwiGlu(ulong x, DeviceMatrix w, ulong y, int n, int inter)
    {
        if (w.IsQuantized)
        {
            ulong product = Scratch.Get("gate_up", (long)n * 2 * inter * ActBytes);
            Linear(x, w, product, n);
            SwiGlu(product, y, n, inter);
            return;
        }
        LinearSwiGlu(x, w.Data, y, n, inter, w.Cols);
    }

    public void LinearSwiGlu(ulong x, ulong w, ulong y, int n, int inter, int k)
    {
        if (GemvApplies(x, w, y, n, k))
        {
            int split = GemvSplit(k, GemvWarps / 2);
            _module.Launch("gemv_swiglu_bf16", Blocks((long)inter * 2 * split, GemvWarps), 32 * GemvWarps, 0, x, w, y, n, inter, k, split);
            Profile?.Mark($"gemv+swiglu {2 * inter}x{k}");
            return;
        }
        ulong gateUp = Scratch.Get("gate_up", (long)n * 2 * inter * ActBytes);
        Linear(x, w, gateUp, n, 2 * inter, k);
        SwiGlu(gateUp, y, n, inter);
    }

    /// <summary>
    /// Warps per weight row: each warp streams about 2 KiB of it (1024 bf16, one round of four 16-byte loads per
    /// lane), up to <paramref name="most"/> warps whose partial sums meet in shared memory. That share measured
    /// fastest at every decode product of bamba-9b on the H100 (a sweep of 1–8 warps per row; decode 7.11–7.14
    /// ms/token against 7.26–7.32 with the old rule of "enough warps in flight", bench/results/gpu-h100-2026-11-25-2.md).
    /// </summary>
    private static int GemvSplit(int k, int most)
    {
        int split = 1;
        while (split < most && k / (2 * split) >= 1024) split *= 2;
        return split;
    }

    /// <summary>Float32 logits [rows, vocab] → token ids in <paramref name="output"/> (int32 [rows]); per-row parameters.</summary>
    public void Sample(ulong logits, int vocab, ulong temperature, ulong topK, ulong topP, ulong uniform, ulong output, int rows) =>
        Launch("sample_tokens", rows, SampleThreads, 0, logits, vocab, temperature, topK, topP, uniform, output);

    /// <summary>
    /// Sets to −∞ the logits [rows, vocab] of the ids a grammar forbids: <paramref name="masks"/> holds packed bit masks
    /// of <paramref name="words"/> uint32 each, <paramref name="maskOfRow"/> (int32 [rows]) each row's mask or −1 for none.
    /// </summary>
    public void MaskLogits(ulong logits, int vocab, ulong masks, int words, ulong maskOfRow, int rows)
    {
        if (words * 32L < vocab) throw new ArgumentException($"a mask of {words} words does not cover {vocab} ids", nameof(words));
        Launch("mask_logits", rows, 256, 0, logits, vocab, masks, words, maskOfRow);
    }

    public void Dispose()
    {
        Scratch.Dispose();
        Gemm.Dispose();
        _module.Dispose();
    }
}
