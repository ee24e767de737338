// Next-token choice on the GPU, one block of SAMPLE_THREADS per row, so only token ids go back to the host.
// temperature ≤ 0: greedy (the first maximum, as torch.argmax). Otherwise, in transformers' order: logits / T,
// top-k (keep the k largest; 0 = off), top-p over the renormalised top-k survivors (keep the most likely tokens
// until their mass reaches p; 1 = off), then a draw with the row's uniform u in [0, 1): the first kept token, in
// vocabulary order, whose running sum of exp(l − max) exceeds u · total. Thresholds are found by bisection on the
// order-preserving integer key of the float, 32 passes over the row, never by sorting.


__device__ __forceinline__ unsigned order_key(float v) {
    unsigned u = __float_as_uint(v);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Kept by top-k and top-p, and not masked out: a −∞ logit has no mass, and the fallbacks that pick the last kept id
// (when rounding puts u · total past every sum) must not land on it.
__device__ __forceinline__ bool drawable(float v, unsigned threshold) {
    return order_key(v) >= threshold && v > NEG_INF;
}

__device__ unsigned block_count(unsigned v) {
    return (unsigned)block_sum((float)v);
}

// A grammar's token mask, applied before sample_tokens: the logit of every id whose bit is clear becomes −∞, so no
// rule of the sampler can pick it (it adds no mass and is never the maximum). masks holds one packed bit mask of
// `words` uint32 per constrained row (bit i of word i / 32: id i allowed); mask_of_row[row] is the row's mask, or −1
// for an unconstrained row, which is left as it is. One block per row.
extern "C" __global__ void mask_logits(float* logits, int vocab, const unsigned* masks, int words, const int* mask_of_row) {
    pdl_enter();
    int m = mask_of_row[blockIdx.x];
    if (m < 0) return;
    float* l = logits + (long long)blockIdx.x * vocab;
    const unsigned* bits = masks + (long long)m * words;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x)
        if (!((bits[i >> 5] >> (i & 31)) & 1u)) l[i] = NEG_INF;
}

extern "C" __global__ void sample_tokens(const float* logits, int vocab, const float* temperature, const int* top_k, const float* top_p,
                                         const float* uniform, int* out) {
    pdl_enter();
    __shared__ float prefix[SAMPLE_THREADS + 1];
    __shared__ int best_index[SAMPLE_THREADS];
    __shared__ float best_value[SAMPLE_THREADS];
    __shared__ int last_kept;
    int row = blockIdx.x, tid = threadIdx.x;
    const float* l = logits + (long long)row * vocab;
    float T = temperature[row];
    if (!(T > 0.f)) {
        float bv = NEG_INF; int bi = vocab;
        for (int i = tid; i < vocab; i += blockDim.x) if (l[i] > bv || (bi == vocab && l[i] == bv)) { bv = l[i]; bi = i; }
        best_value[tid] = bv; best_index[tid] = bi;
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s >>= 1) {
            if (tid < s) {
                float ov = best_value[tid + s]; int oi = best_index[tid + s];
                if (ov > best_value[tid] || (ov == best_value[tid] && oi < best_index[tid])) { best_value[tid] = ov; best_index[tid] = oi; }
            }
            __syncthreads();
        }
        if (tid == 0) out[row] = best_index[0] < vocab ? best_index[0] : 0;
        return;
    }
    float mx = NEG_INF;
    for (int i = tid; i < vocab; i += blockDim.x) mx = fmaxf(mx, l[i] / T);
    mx = block_max(mx);

    // top-k: the largest key τ with count(key ≥ τ) ≥ k.
    unsigned tk = 0;
    int k = top_k[row];
    if (k > 0 && k < vocab) {
        for (int bit = 31; bit >= 0; bit--) {
            unsigned cand = tk | (1u << bit), n = 0;
            for (int i = tid; i < vocab; i += blockDim.x) n += order_key(l[i] / T) >= cand;
            if (block_count(n) >= (unsigned)k) tk = cand;
        }
    }
    // top-p: the largest τ ≥ τk whose kept mass is still ≥ p of the top-k mass.
    unsigned tp = tk;
    float p = top_p[row];
    if (p < 1.f) {
        float z = 0.f;
        for (int i = tid; i < vocab; i += blockDim.x) { float v = l[i] / T; if (order_key(v) >= tk) z += expf(v - mx); }
        z = block_sum(z);
        unsigned t = 0;
        for (int bit = 31; bit >= 0; bit--) {
            unsigned cand = t | (1u << bit), th = cand > tk ? cand : tk;
            float mass = 0.f;
            for (int i = tid; i < vocab; i += blockDim.x) { float v = l[i] / T; if (order_key(v) >= th) mass += expf(v - mx); }
            if (block_sum(mass) >= p * z) t = cand;
        }
        tp = t > tk ? t : tk;
    }
    // The draw over contiguous segments: a scan of per-thread sums finds the one segment holding u · total.
    int seg = (vocab + blockDim.x - 1) / blockDim.x, begin = min(vocab, tid * seg), end = min(vocab, begin + seg);
    float local = 0.f;
    int my_last = -1;
    for (int i = begin; i < end; i++) { float v = l[i] / T; if (drawable(v, tp)) { local += expf(v - mx); my_last = i; } }
    if (tid == 0) last_kept = -1;
    __syncthreads();
    if (my_last >= 0) atomicMax(&last_kept, my_last);
    prefix[tid + 1] = local;
    __syncthreads();
    if (tid == 0) {
        prefix[0] = 0.f;
        for (int i = 1; i <= (int)blockDim.x; i++) prefix[i] += prefix[i - 1];
        out[row] = last_kept >= 0 ? last_kept : 0; // only if rounding puts u · total past every segment, or all is masked (0, as greedy)
    }
    __syncthreads();
    float target = uniform[row] * prefix[blockDim.x];
    if (local > 0.f && prefix[tid] <= target && target < prefix[tid + 1]) {
        float cum = prefix[tid];
        int pick = my_last;
        for (int i = begin; i < end; i++) {
            float v = l[i] / T;
            if (!drawable(v, tp)) continue;
            cum += expf(v - mx);
            if (cum > target) { pick = i; break; }
        }
        out[row] = pick;
    }
}
