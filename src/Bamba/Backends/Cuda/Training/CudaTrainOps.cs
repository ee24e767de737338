using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// Launches of the training kernels (Kernels/train_*.cu), all float32, on an fp32 <see cref="CudaOps"/> whose
/// inference kernels serve the forward pieces they share (embedding, RMSNorm, dt, chunked SSD, RoPE, residual add).
/// Shapes follow the CPU twins in Bamba.Backends.Cpu and Bamba.Training.
/// </summary>
public sealed class CudaTrainOps
{
    private const int Block = 256;
    private const int AttentionWarps = 4;    // warps per block of the train_attention_* kernels
    private const int AttentionMaxHeadDim = 256; // 32 · TRAIN_ATTN_PER_LANE in train_attention.cu
    private const int SsdMaxState = 256;     // SSD_BWD_MAX_STATE in train_ssd.cu
    private const int ConvMaxKernel = 8;     // TRAIN_CONV_MAX_K in train_conv.cu
    private const int NormPartials = 1024;   // blocks of train_sum_squares

    public CudaTrainOps(CudaOps ops)
    {
        if (ops.Precision != CudaPrecision.Float32) throw new ArgumentException("training kernels run on the fp32 module");
        Ops = ops;
    }

    public CudaOps Ops { get; }
    public CudaDevice Device => Ops.Device;

    private static int Blocks(long n, int block = Block) => CudaOps.Blocks(n, block);
    private void Launch(string kernel, Dim3 grid, Dim3 block, int shared, params ReadOnlySpan<KernelArg> args) =>
        Ops.Launch(kernel, grid, block, shared, args);

    // ---- loss ----------------------------------------------------------------------------------------------------

    /// <summary>Overwrites logits [rows, vocab] with their gradient; ce and zsq [rows] receive each row's terms.</summary>
    public void CrossEntropy(ulong logits, ulong targets, int rows, int vocab, float ceScale, float zScale, ulong ce, ulong zsq) =>
        Launch("train_cross_entropy", rows, Block, 0, logits, targets, vocab, ceScale, zScale, ce, zsq);

    // ---- norms ---------------------------------------------------------------------------------------------------

    /// <summary>dx += RMSNorm's input gradient; <paramref name="rstd"/> [rows] is kept for <see cref="NormWeightGrad"/>.</summary>
    public void RmsNormBackward(ulong x, ulong weight, ulong dy, ulong dx, ulong rstd, int rows, int width, float eps) =>
        Launch("train_rmsnorm_backward", Dim3.Of(rows, 1), Block, 0, x, weight, dy, dx, rstd, width, width, eps);

    /// <summary>Writes dy [rows, width], dz (row stride dzStride), the gated input and rstd [rows, width / group].</summary>
    public void GatedRmsNormBackward(ulong y, ulong z, int zStride, ulong weight, ulong dOut, ulong dy, ulong dz, int dzStride,
        ulong gated, ulong rstd, int rows, int width, int group, float eps)
    {
        if (width % group != 0) throw new ArgumentException("gated norm: width must be a multiple of the group size");
        Launch("train_gated_rmsnorm_backward", Dim3.Of(rows, width / group), Block, 0, y, z, zStride, weight, dOut, dy, dz, dzStride,
            gated, rstd, width, group, eps);
    }

    /// <summary>dw += Σ_rows dy ⊙ x ⊙ rstd (x: the norm's input, or the gated input).</summary>
    public void NormWeightGrad(ulong x, ulong dy, ulong rstd, int rows, int width, int group, ulong dw) =>
        Launch("train_norm_weight_grad", Blocks(width), Block, 0, x, dy, rstd, rows, width, group, dw);

    // ---- element-wise --------------------------------------------------------------------------------------------

    public void SiluBackward(ulong dOut, ulong pre, ulong dPre, long n) => Launch("train_silu_backward", Blocks(n), Block, 0, dOut, pre, dPre, n);

    public void SwiGlu(ulong gate, ulong up, ulong hidden, long n) => Launch("train_swiglu_forward", Blocks(n), Block, 0, gate, up, hidden, n);

    public void SwiGluBackward(ulong dHidden, ulong gate, ulong up, ulong dGate, ulong dUp, long n) =>
        Launch("train_swiglu_backward", Blocks(n), Block, 0, dHidden, gate, up, dGate, dUp, n);

    /// <summary>hidden = relu(up)², the squared-ReLU MLP's activation (up is kept for the backward).</summary>
    public void SquaredRelu(ulong up, ulong hidden, long n) => Launch("train_squared_relu_forward", Blocks(n), Block, 0, up, hidden, n);

    public void SquaredReluBackward(ulong dHidden, ulong up, ulong dUp, long n) =>
        Launch("train_squared_relu_backward", Blocks(n), Block, 0, dHidden, up, dUp, n);

    public void DtBackward(ulong proj, int projStride, int dtColumn, ulong dtBias, ulong dDt, ulong dProj, int rows, int heads, float lo, float hi) =>
        Launch("train_dt_backward", Blocks((long)rows * heads), Block, 0, proj, projStride, dtColumn, dtBias, dDt, dProj, rows, heads, lo, hi);

    /// <summary>out[c] += Σ_r x[r·stride + column + c] for c &lt; width.</summary>
    public void ColumnSum(ulong x, int stride, int column, int rows, int width, ulong output) =>
        Launch("train_column_sum", Blocks(width), Block, 0, x, stride, column, rows, width, output);

    public void EmbeddingBackward(ulong tokens, ulong dx, int rows, int hidden, ulong grad) =>
        Launch("train_embedding_backward", Blocks(hidden), Block, 0, tokens, dx, rows, hidden, grad);

    public void ToBFloat16(ulong src, ulong dst, long n) => Launch("train_f32_to_bf16", Blocks(n), Block, 0, src, dst, n);

    public void NegExp(ulong src, ulong dst, int n) => Launch("train_neg_exp", Blocks(n), Block, 0, src, dst, n);

    // ---- routed experts ------------------------------------------------------------------------------------------

    /// <summary>
    /// The backward of one expert's weighted scatter (<c>out[rows[i]] += weights[i]·result[i]</c>) over its
    /// <paramref name="count"/> picks: dResult [count, width], and each pick's routing-weight gradient into
    /// <c>dWeights[slots[i]]</c>.
    /// </summary>
    public void ExpertOutputBackward(ulong dOut, ulong result, int width, ulong rows, ulong weights, ulong slots, ulong dResult, ulong dWeights, int count) =>
        Launch("train_expert_output_backward", count, Block, 0, dOut, result, width, rows, weights, slots, dResult, dWeights);

    /// <summary><c>acc[rows[i]] += y[i]</c> for the <paramref name="count"/> rows of one expert.</summary>
    public void ScatterAddRows(ulong acc, ulong y, int width, ulong rows, int count) =>
        Launch("train_scatter_add_rows", Dim3.Of(Blocks(width), count), Block, 0, acc, y, width, rows);

    // ---- causal conv ---------------------------------------------------------------------------------------------

    /// <summary>Conv over packed rows (input columns with row stride), keeping the pre-activation; positions restart per sequence.</summary>
    public void ConvForward(ulong input, int inStride, ulong weight, ulong bias, ulong positions, ulong pre, ulong output, int rows, int channels, int kernel)
    {
        CheckKernel(kernel);
        Launch("train_conv_forward", Dim3.Of(Blocks(channels), rows), Block, 0, input, inStride, weight, bias, positions, pre, output, channels, kernel);
    }

    public void ConvBackwardInput(ulong dPre, ulong weight, ulong positions, ulong dInput, int inStride, int rows, int channels, int kernel)
    {
        CheckKernel(kernel);
        Launch("train_conv_backward_input", Dim3.Of(Blocks(channels), rows), Block, 0, dPre, weight, positions, dInput, inStride, rows, channels, kernel);
    }

    /// <summary>dw += and dbias += (bias may be 0: no bias).</summary>
    public void ConvWeightGrad(ulong input, int inStride, ulong dPre, ulong positions, int rows, int channels, int kernel, ulong dWeight, ulong dBias)
    {
        CheckKernel(kernel);
        Launch("train_conv_weight_grad", Blocks(channels), Block, 0, input, inStride, dPre, positions, rows, channels, kernel, dWeight, dBias);
    }

    private static void CheckKernel(int kernel)
    {
        if (kernel > ConvMaxKernel) throw new BambaException($"CUDA training supports mamba_d_conv ≤ {ConvMaxKernel} (got {kernel})");
    }

    // ---- SSD -----------------------------------------------------------------------------------------------------

    /// <summary>
    /// Steps per chunk of the scan backward: it keeps the state entering each chunk and recomputes a chunk's states on
    /// its way back, so its state buffers hold about rows / 32 + 32 · sequences states instead of one per row.
    /// </summary>
    public const int SsdStateInterval = 32;

    /// <summary>
    /// Work buffers of <see cref="SsdBackward"/>, sized by the caller: Checkpoints and Chunk hold the state slots
    /// (<c>[Inner, N]</c> floats each) that <see cref="SsdBackwardStateSlots"/> counts for <paramref name="Interval"/>.
    /// </summary>
    public readonly record struct SsdBackwardScratch(ulong Checkpoints, ulong Chunk, int Interval, ulong DbHead, ulong DcHead, ulong DaSeq, ulong DdSeq);

    /// <summary>
    /// The state slots of <see cref="SsdBackward"/>'s scratch for sequences of these lengths: a checkpoint for every
    /// chunk of <paramref name="interval"/> steps after a sequence's first, and min(interval, length) slots a sequence
    /// for the chunk being differentiated (every sequence's blocks run at once).
    /// </summary>
    public static (long Checkpoints, long Chunk) SsdBackwardStateSlots(IEnumerable<int> lengths, int interval)
    {
        long checkpoints = 0, chunk = 0;
        foreach (int length in lengths)
        {
            if (length > 0) checkpoints += (length + interval - 1) / interval - 1;
            chunk += Math.Min(interval, length);
        }
        return (checkpoints, chunk);
    }

    /// <summary>
    /// Gradient of the scan over every sequence of a packed batch: writes dxbc [rows, ConvDim] (x, B and C columns)
    /// and dDt [rows, Heads]; adds to the A_log and D gradients. Scratch: the state slots above, DbHead and DcHead
    /// [rows, Heads, N], DaSeq and DdSeq [sequences, Heads].
    /// </summary>
    public void SsdBackward(CudaOps.SsdShape s, ulong xbc, ulong dt, ulong a, ulong d, ulong dy, ulong seqOffsets, int sequences, int rows,
        SsdBackwardScratch scratch, ulong dxbc, ulong dDt, ulong dALog, ulong dD)
    {
        if (s.StateSize > SsdMaxState || s.HeadDim > 1024 || s.Heads % s.Groups != 0)
            throw new BambaException($"CUDA training needs mamba_d_state ≤ {SsdMaxState}, mamba_d_head ≤ 1024 and heads divisible by groups");
        ArgumentOutOfRangeException.ThrowIfLessThan(scratch.Interval, 1);
        int threads = (s.HeadDim + 31) / 32 * 32;
        Launch("train_ssd_backward", Dim3.Of(sequences, s.Heads), threads, 4 * threads * s.StateSize,
            xbc, s.ConvDim, dt, a, d, dy, seqOffsets, scratch.Checkpoints, scratch.Chunk, scratch.Interval, dxbc, dDt,
            scratch.DbHead, scratch.DcHead, scratch.DaSeq, scratch.DdSeq, s.Heads, s.HeadDim, s.Groups, s.StateSize);
        Launch("train_ssd_group_sum", Dim3.Of(Blocks(2L * s.Groups * s.StateSize), rows), Block, 0,
            scratch.DbHead, scratch.DcHead, dxbc, s.ConvDim, s.Inner, s.Heads, s.Groups, s.StateSize);
        Launch("train_ssd_param_grads", Blocks(s.Heads), Block, 0, scratch.DaSeq, scratch.DdSeq, a, sequences, s.Heads, dALog, dD);
    }

    // ---- attention -----------------------------------------------------------------------------------------------

    /// <param name="ConfiguredScale">The config's attention scale (Granite's attention_multiplier), or null for head_dim^−0.5.</param>
    public readonly record struct AttentionShape(int Heads, int KvHeads, int HeadDim, float? ConfiguredScale = null)
    {
        public float Scale => ConfiguredScale ?? 1f / MathF.Sqrt(HeadDim);
    }

    /// <summary>Causal attention within each packed sequence; lse [rows, heads] is kept for the backward.</summary>
    public void AttentionForward(AttentionShape s, ulong q, ulong k, ulong v, ulong positions, ulong output, ulong lse, int rows)
    {
        CheckAttention(s);
        Launch("train_attention_forward", Blocks((long)rows * s.Heads, AttentionWarps), 32 * AttentionWarps, 0,
            q, k, v, positions, output, lse, rows, s.Heads, s.KvHeads, s.HeadDim, s.Scale);
    }

    /// <summary>Writes dq, dk, dv; <paramref name="delta"/> [rows, heads] is scratch.</summary>
    public void AttentionBackward(AttentionShape s, ulong q, ulong k, ulong v, ulong dOut, ulong positions, ulong lse, ulong delta,
        ulong dq, ulong dk, ulong dv, int rows)
    {
        CheckAttention(s);
        Launch("train_attention_backward_q", Blocks((long)rows * s.Heads, AttentionWarps), 32 * AttentionWarps, 0,
            q, k, v, dOut, positions, lse, dq, delta, rows, s.Heads, s.KvHeads, s.HeadDim, s.Scale);
        Launch("train_attention_backward_kv", Blocks((long)rows * s.KvHeads, AttentionWarps), 32 * AttentionWarps, 0,
            q, k, v, dOut, positions, lse, delta, dk, dv, rows, s.Heads, s.KvHeads, s.HeadDim, s.Scale);
    }

    private static void CheckAttention(AttentionShape s)
    {
        if (s.HeadDim > AttentionMaxHeadDim || s.Heads % s.KvHeads != 0)
            throw new BambaException($"CUDA training needs head_dim ≤ {AttentionMaxHeadDim} and heads divisible by KV heads");
    }

    // ---- optimizer -----------------------------------------------------------------------------------------------

    /// <summary>One AdamW update of n elements; decay is 1 − lr·wd for decayed parameters, else 1.</summary>
    public void AdamW(ulong w, ulong g, ulong m, ulong v, long n, float lr, float decay, AdamWOptions o, float correction1, float correction2) =>
        Launch("train_adamw", Blocks(n), Block, 0, w, g, m, v, n, lr, decay, o.Beta1, o.Beta2, o.Epsilon, correction1, correction2);

    /// <summary>Σ x² over n elements, added in double on the host from per-block partial sums.</summary>
    public double SumOfSquares(ulong x, long n, ulong partials)
    {
        int blocks = (int)Math.Min(NormPartials, Math.Max(1, (n + Block - 1) / Block));
        Launch("train_sum_squares", blocks, Block, 0, x, n, partials);
        return Device.Download<float>(partials, blocks).Sum(p => (double)p);
    }

    /// <summary>Bytes the partial sums of <see cref="SumOfSquares"/> need.</summary>
    public const int PartialBytes = 4 * NormPartials;

    public void Scale(ulong x, long n, float s) => Launch("train_scale", Blocks(n), Block, 0, x, n, s);
}
