// Decode's matrix-vector products: y[r, m] = Σ_k x[r, k] · W[m, k] for a few rows r (GEMV_MAX_ROWS), bf16 weights.
// cuBLASLt streams a 4096×4096 bf16 matrix at about half the copy rate for one row; this kernel gives each weight row
// `split` warps (each a contiguous share of k) and has every lane load 16 bytes (8 bf16) at a time, so the weights
// stream coalesced and once. Rows longer than 1024 take split > 1 (each warp streams about 2 KiB: the share that
// measured fastest, CudaOps.GemvSplit). Needs k % 8 == 0 (16-byte rows); accumulation is float32.
// Grid (ceil(m · split / GEMV_WARPS)), block 32 · GEMV_WARPS; split divides GEMV_WARPS.


// One warp's share of weight row `row` (its piece `piece` of `split` along k) against the `rows` activation rows,
// summed over the warp into partial[warp][r]. row < 0: a warp past the matrix's end, which only writes zeros.
// Before pdl_enter() each lane asks L2 for one 128-byte line of the warp's first 4 KiB of weights: they do not
// depend on the previous kernel, so under a programmatic launch the memory is busy while that kernel ends.
// Every thread calls pdl_enter() once.
__device__ __forceinline__ void gemv_warp(const act_t* x, const bf16_t* w, int row, int k, int rows, int piece, int split,
                                          float (*partial)[GEMV_MAX_ROWS]) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int share = (k / 8 + split - 1) / split * 8, k_begin = piece * share, k_end = min(k, k_begin + share);
    const bf16_t* wr = w + (long long)row * k;
    if (row >= 0 && k_begin + lane * 64 < k_end) asm volatile("prefetch.global.L2 [%0];" :: "l"(wr + k_begin + lane * 64));
    pdl_enter();
    float acc[GEMV_MAX_ROWS];
    for (int r = 0; r < GEMV_MAX_ROWS; r++) acc[r] = 0.f;
    if (row >= 0) {
        // Four independent 16-byte weight loads in flight per lane before any is used.
        for (int base = k_begin + lane * 8; base < k_end; base += 4 * 32 * 8) {
            uint4 wv[4];
            for (int u = 0; u < 4; u++) {
                int k0 = base + u * 32 * 8;
                if (k0 < k_end) wv[u] = __ldg((const uint4*)(wr + k0));
                else { wv[u].x = 0u; wv[u].y = 0u; wv[u].z = 0u; wv[u].w = 0u; }
            }
            for (int u = 0; u < 4; u++) {
                int k0 = base + u * 32 * 8;
                if (k0 >= k_end) break;
                float wf[8];
                bf16x8_to_f(wv[u], wf);
                for (int r = 0; r < GEMV_MAX_ROWS; r++) {
                    if (r >= rows) break;
                    float xv[8];
                    load8(x + (long long)r * k + k0, xv);
                    float s = 0.f;
                    for (int i = 0; i < 8; i++) s += wf[i] * xv[i];
                    acc[r] += s;
                }
            }
        }
    }
    for (int r = 0; r < GEMV_MAX_ROWS; r++) {
        float s = warp_sum(acc[r]);
        if (lane == 0) partial[warp][r] = s;
    }
}

extern "C" __global__ void gemv_bf16(const act_t* x, const bf16_t* w, act_t* y, int rows, int m, int k, int split) {
    PDL_WEIGHTS_FIRST;
    __shared__ float partial[GEMV_WARPS][GEMV_MAX_ROWS];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int row = blockIdx.x * (GEMV_WARPS / split) + warp / split, piece = warp % split;
    gemv_warp(x, w, row < m ? row : -1, k, rows, piece, split, partial);
    __syncthreads();
    if (row >= m || piece != 0 || lane >= rows) return;
    float s = 0.f;
    for (int j = 0; j < split; j++) s += partial[warp + j][lane];
    st(y + (long long)lane * m + row, s);
}

// The MLP's gate|up projection with SwiGLU applied on the way out: W is [2·inter, k] (gate rows, then up rows) and
// y[r, j] = silu(gate[r, j]) · up[r, j], [rows, inter]. A block's first half of warps takes gate rows, the second
// half the same up rows, so the pair meets in shared memory and the [rows, 2·inter] product is never stored. Each
// sum is rounded to the activation type first, as the unfused path stores it. split ≤ GEMV_WARPS / 2.
// Grid (ceil(inter · 2 · split / GEMV_WARPS)), block 32 · GEMV_WARPS.
extern "C" __global__ void gemv_swiglu_bf16(const act_t* x, const bf16_t* w, act_t* y, int rows, int inter, int k, int split) {
    PDL_WEIGHTS_FIRST;
    __shared__ float partial[GEMV_WARPS][GEMV_MAX_ROWS];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int pairs = GEMV_WARPS / split / 2, slot = warp / split, piece = warp % split;
    int col = blockIdx.x * pairs + slot % pairs;
    gemv_warp(x, w, col < inter ? col + (slot >= pairs ? inter : 0) : -1, k, rows, piece, split, partial);
    __syncthreads();
    if (col >= inter || slot >= pairs || piece != 0 || lane >= rows) return;
    float g = 0.f, u = 0.f;
    for (int j = 0; j < split; j++) {
        g += partial[warp + j][lane];
        u += partial[warp + pairs * split + j][lane];
    }
    st(y + (long long)lane * inter + col, silu(act_round(g)) * act_round(u));
}
