// Mamba-2 SSD (state-space duality), chunked as mamba_ssm's ssd_combined does it: chunk cumsum → chunk state →
// state passing → chunk scan, plus the one-step selective state update for decode.
// Layout of one run of `steps` tokens: xbc [steps, stride] holds x at column h·P + p, B at inner + g·N + n and C at
// inner + (G + g)·N + n; dt [steps, H] (float32); dA_cs [H, steps]; chunk states [chunks, H, P·N] (float32); the
// sequence's SSM state [H, P·N] in state_t (float32, or bf16 where chosen), all arithmetic float32. Head h reads group g = h / (H / G).

// dt = clamp(softplus(dt_raw + dt_bias), lo, hi) for every row. dt_raw is column dt_col of the in_proj output.
extern "C" __global__ void ssd_dt(const act_t* proj, int proj_stride, int dt_col, const float* dt_bias, float* dt,
                                  int rows, int heads, float lo, float hi) {
    pdl_enter();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * heads) return;
    int r = i / heads, h = i % heads;
    float v = softplus(ld(proj + (long long)r * proj_stride + dt_col + h) + dt_bias[h]);
    dt[i] = fminf(fmaxf(v, lo), hi);
}

// dA_cs[h, t] = Σ_{s = chunk start .. t} dt[s, h] · A[h]: the within-chunk cumulative log-decay. One warp per
// (chunk, head): each lane sums 8 consecutive steps, a warp scan adds the lanes before it, and a carry links segments
// of 256 steps. Grid (ceil(chunks · H / 4)), block 128.
extern "C" __global__ void ssd_chunk_cumsum(const float* dt, const float* A, float* dA_cs, int steps, int heads, int chunk) {
    pdl_enter();
    int lane = threadIdx.x & 31, item = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), chunks = (steps + chunk - 1) / chunk;
    if (item >= chunks * heads) return;
    int c = item / heads, h = item % heads, begin = c * chunk, end = min(steps, begin + chunk);
    float a = A[h], carry = 0.f;
    for (int s0 = begin; s0 < end; s0 += 32 * 8) {
        float v[8], run = 0.f;
        for (int i = 0; i < 8; i++) {
            int t = s0 + lane * 8 + i;
            run += t < end ? dt[(long long)t * heads + h] * a : 0.f;
            v[i] = run;
        }
        float total = run;
        for (int o = 1; o < 32; o <<= 1) {
            float before = __shfl_up_sync(FULL_MASK, total, o);
            if (lane >= o) total += before;
        }
        float offset = carry + total - run;
        for (int i = 0; i < 8; i++) {
            int t = s0 + lane * 8 + i;
            if (t < end) dA_cs[(long long)h * steps + t] = offset + v[i];
        }
        carry += __shfl_sync(FULL_MASK, total, 31);
    }
}

// cb[c, g, t, s] = C[t] · B[s] for t, s in chunk c (the "attention" scores shared by a group's heads).
// Grid (chunks · G, chunk), block over s.
extern "C" __global__ void ssd_chunk_cb(const act_t* xbc, int stride, float* cb, int steps, int inner, int groups, int dstate, int chunk) {
    pdl_enter();
    int c = blockIdx.x / groups, g = blockIdx.x % groups, tl = blockIdx.y;
    int t = c * chunk + tl;
    if (t >= steps) return;
    const act_t* ct = xbc + (long long)t * stride + inner + (groups + g) * dstate;
    for (int sl = threadIdx.x; sl <= tl; sl += blockDim.x) {
        const act_t* bs = xbc + (long long)(c * chunk + sl) * stride + inner + g * dstate;
        float acc = 0.f;
        for (int n = 0; n < dstate; n++) acc += ld(ct + n) * ld(bs + n);
        cb[(((long long)c * groups + g) * chunk + tl) * chunk + sl] = acc;
    }
}

// The chunk kernels below are register-tiled matrix products on CUDA cores: a block of 16 × 16 threads owns a
// 64 × 64 output tile, each thread 4 × 4 of it, and the operands go through shared memory in slices of SSD_K (padded
// by one column against bank conflicts). Arithmetic is float32 in both precisions.
#define SSD_K 32

// acc[i][j] += Σ_kk a[ty·4 + i][kk] · b[tx·4 + j][kk] over one slice: a and b are [SSD_OUT][SSD_K + 1] in shared memory.
__device__ __forceinline__ void ssd_tile_mma(const float* a, const float* b, float acc[4][4], int ty, int tx, int k) {
    for (int kk = 0; kk < k; kk++) {
        float av[4], bv[4];
        for (int i = 0; i < 4; i++) av[i] = a[(ty * 4 + i) * (SSD_K + 1) + kk];
        for (int j = 0; j < 4; j++) bv[j] = b[(tx * 4 + j) * (SSD_K + 1) + kk];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
    }
}

// states[c, h, p, n] = Σ_{s in chunk c} exp(dA_cs[last] − dA_cs[s]) · dt[s] · x[s, p] · B[s, n]: what chunk c adds to
// the state, as of its last step. Grid (chunks, H, ceil(P / 64) · ceil(N / 64)), block 256.
extern "C" __global__ void ssd_chunk_state(const act_t* xbc, int stride, const float* dt, const float* dA_cs, float* states,
                                           int steps, int heads, int head_dim, int groups, int dstate, int chunk) {
    pdl_enter();
    __shared__ float xs[SSD_OUT * (SSD_K + 1)]; // [p][s]: x scaled by the step's weight
    __shared__ float bs[SSD_OUT * (SSD_K + 1)]; // [n][s]
    const int P = head_dim, N = dstate;
    int c = blockIdx.x, h = blockIdx.y, g = h / (heads / groups), inner = heads * P;
    int n_tiles = (N + SSD_OUT - 1) / SSD_OUT, p0 = blockIdx.z / n_tiles * SSD_OUT, n0 = blockIdx.z % n_tiles * SSD_OUT;
    int c0 = c * chunk, c1 = min(steps, c0 + chunk), ty = threadIdx.x / 16, tx = threadIdx.x % 16;
    const float* cs = dA_cs + (long long)h * steps;
    float last = cs[c1 - 1], acc[4][4] = {};
    for (int s0 = c0; s0 < c1; s0 += SSD_K) {
        __syncthreads();
        for (int i = threadIdx.x; i < SSD_K * SSD_OUT; i += blockDim.x) {
            int sl = i / SSD_OUT, col = i % SSD_OUT, s = s0 + sl;
            bool live = s < c1;
            float w = live ? expf(last - cs[s]) * dt[(long long)s * heads + h] : 0.f;
            xs[col * (SSD_K + 1) + sl] = live && p0 + col < P ? w * ld(xbc + (long long)s * stride + h * P + p0 + col) : 0.f;
            bs[col * (SSD_K + 1) + sl] = live && n0 + col < N ? ld(xbc + (long long)s * stride + inner + g * N + n0 + col) : 0.f;
        }
        __syncthreads();
        ssd_tile_mma(xs, bs, acc, ty, tx, SSD_K);
    }
    float* out = states + ((long long)c * heads + h) * P * N;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int p = p0 + ty * 4 + i, n = n0 + tx * 4 + j;
            if (p < P && n < N) out[(long long)p * N + n] = acc[i][j];
        }
}

// Walks the chunks in order: entering[c] becomes the state entering chunk c, and `state` (the sequence's, state_t,
// initial on entry) becomes the state after the run: S ← exp(dA_cs[last of c]) · S + added[c].
// `added` is only read, so each thread's loads of the chunks do not wait on its own stores.
// Grid (ceil(P·N / block), H).
extern "C" __global__ void ssd_state_passing(const float* __restrict__ added, float* __restrict__ entering, const float* dA_cs,
                                             state_t* state, int steps, int heads, int pn, int chunk) {
    pdl_enter();
    int e = blockIdx.x * blockDim.x + threadIdx.x, h = blockIdx.y;
    if (e >= pn) return;
    int chunks = (steps + chunk - 1) / chunk;
    float s = ld(state + (long long)h * pn + e);
    for (int c = 0; c < chunks; c++) {
        long long idx = ((long long)c * heads + h) * pn + e;
        entering[idx] = s;
        int last = min(steps, (c + 1) * chunk) - 1;
        s = expf(dA_cs[(long long)h * steps + last]) * s + __ldg(added + idx);
    }
    st(state + (long long)h * pn + e, s);
}

// y[t, h, p] = exp(dA_cs[t]) · Σ_n C[t, n] S_c[p, n]                       (the state entering chunk c)
//            + Σ_{s ≤ t in chunk} exp(dA_cs[t] − dA_cs[s]) · cb[t, s] · dt[s] · x[s, p]   (within the chunk)
//            + D[h] · x[t, p].
// Grid (chunks, H, ceil(chunk / 64) · ceil(P / 64)), block 256: a block owns 64 rows t × 64 columns p of one head.
extern "C" __global__ void ssd_chunk_scan(const act_t* xbc, int stride, const float* dt, const float* dA_cs, const float* cb,
                                          const float* states, const float* D, act_t* y, int y_stride,
                                          int steps, int heads, int head_dim, int groups, int dstate, int chunk) {
    pdl_enter();
    __shared__ float as[SSD_OUT * (SSD_K + 1)]; // [t][k]: C rows, then the decayed scores of an s slice
    __shared__ float bs[SSD_OUT * (SSD_K + 1)]; // [p][k]: the entering state, then x of an s slice
    const int P = head_dim, N = dstate;
    int c = blockIdx.x, h = blockIdx.y, g = h / (heads / groups), inner = heads * P;
    int p_tiles = (P + SSD_OUT - 1) / SSD_OUT, t0 = c * chunk + blockIdx.z / p_tiles * SSD_OUT, p0 = blockIdx.z % p_tiles * SSD_OUT;
    int c0 = c * chunk, c1 = min(steps, c0 + chunk);
    if (t0 >= c1) return;
    int t_end = min(c1, t0 + SSD_OUT), ty = threadIdx.x / 16, tx = threadIdx.x % 16;
    const float* cs = dA_cs + (long long)h * steps;
    const float* S = states + ((long long)c * heads + h) * P * N;
    const float* cbc = cb + ((long long)c * groups + g) * chunk * chunk;
    float acc[4][4] = {};
    // The entering state: C[t, :] · S[p, :] in slices of N.
    for (int n0 = 0; n0 < N; n0 += SSD_K) {
        __syncthreads();
        for (int i = threadIdx.x; i < SSD_OUT * SSD_K; i += blockDim.x) {
            int row = i / SSD_K, k = i % SSD_K, n = n0 + k, t = t0 + row, p = p0 + row;
            as[row * (SSD_K + 1) + k] = t < t_end && n < N ? ld(xbc + (long long)t * stride + inner + (groups + g) * N + n) : 0.f;
            bs[row * (SSD_K + 1) + k] = p < P && n < N ? S[(long long)p * N + n] : 0.f;
        }
        __syncthreads();
        ssd_tile_mma(as, bs, acc, ty, tx, SSD_K);
    }
    for (int i = 0; i < 4; i++) {
        int t = t0 + ty * 4 + i;
        float decay = t < t_end ? expf(cs[t]) : 0.f;
        for (int j = 0; j < 4; j++) acc[i][j] *= decay;
    }
    // Within the chunk: slices of s up to the tile's last row (causal).
    for (int s0 = c0; s0 < t_end; s0 += SSD_K) {
        __syncthreads();
        for (int i = threadIdx.x; i < SSD_OUT * SSD_K; i += blockDim.x) {
            int row = i / SSD_K, k = i % SSD_K, s = s0 + k, t = t0 + row, p = p0 + row;
            as[row * (SSD_K + 1) + k] = t < t_end && s <= t
                ? expf(cs[t] - cs[s]) * cbc[(long long)(t - c0) * chunk + (s - c0)] * dt[(long long)s * heads + h] : 0.f;
            bs[row * (SSD_K + 1) + k] = s < c1 && p < P ? ld(xbc + (long long)s * stride + h * P + p) : 0.f;
        }
        __syncthreads();
        ssd_tile_mma(as, bs, acc, ty, tx, SSD_K);
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int t = t0 + ty * 4 + i, p = p0 + tx * 4 + j;
            if (t >= t_end || p >= P) continue;
            float x = ld(xbc + (long long)t * stride + h * P + p);
            st(y + (long long)t * y_stride + h * P + p, acc[i][j] + D[h] * x);
        }
}

// One decode step for many sequences (row r's state, state_t, is states[r]):
// S ← exp(dt·A)·S + dt·x⊗B; y = S·C + D·x, in float32, with dt = clamp(softplus(proj[r, dt_col + h] + dt_bias[h])).
// Grid (H, ceil(P / (SSD_STEP_WARPS · SSD_STEP_ROWS)), rows), SSD_STEP_WARPS warps: warp w owns SSD_STEP_ROWS state
// rows p of the head (B and C, shared by them, are loaded once), its lanes the state columns n
// (N ≤ 32 · SSD_STEP_MAX_PER_LANE). A batch of sequences makes this kernel a stream over all their states, so each warp
// issues all its rows' loads before any store (the state and xbc may share a type, so the compiler could not
// otherwise move a later load above an earlier store): SSD_STEP_ROWS rows keep 2 KiB of float state per warp in flight.
// When N is a multiple of 128 each lane owns runs of 4 adjacent columns (one 8-byte bf16 or 16-byte float load per
// run), so a warp moves whole 256- or 512-byte lines per instruction.

__device__ __forceinline__ void load4(const float* p, float* out) {
    float4 f = *(const float4*)p;
    out[0] = f.x; out[1] = f.y; out[2] = f.z; out[3] = f.w;
}

__device__ __forceinline__ void load4(const bf16_t* p, float* out) {
    uint2 u = *(const uint2*)p;
    out[0] = __uint_as_float(u.x << 16); out[1] = __uint_as_float(u.x & 0xffff0000u);
    out[2] = __uint_as_float(u.y << 16); out[3] = __uint_as_float(u.y & 0xffff0000u);
}

__device__ __forceinline__ void store4(float* p, const float* v) {
    float4 f;
    f.x = v[0]; f.y = v[1]; f.z = v[2]; f.w = v[3];
    *(float4*)p = f;
}

__device__ __forceinline__ void store4(bf16_t* p, const float* v) {
    uint2 u;
    u.x = (unsigned)f_to_bf16(v[0]) | ((unsigned)f_to_bf16(v[1]) << 16);
    u.y = (unsigned)f_to_bf16(v[2]) | ((unsigned)f_to_bf16(v[3]) << 16);
    *(uint2*)p = u;
}

// Column of element i (of SSD_STEP_MAX_PER_LANE) of a lane: runs of 4 per 128 columns, or one column per 32.
__device__ __forceinline__ int ssd_step_column(int lane, int i, bool runs) { return runs ? (i >> 2) * 128 + lane * 4 + (i & 3) : lane + 32 * i; }

extern "C" __global__ void ssd_step(const act_t* __restrict__ xbc, int stride, const act_t* proj, int proj_stride, int dt_col,
                                    const float* dt_bias, float dt_lo, float dt_hi, const float* A, const float* D,
                                    state_t* const* states, act_t* __restrict__ y, int y_stride, int heads, int head_dim, int groups, int dstate) {
    pdl_enter();
    int h = blockIdx.x, r = blockIdx.z, lane = threadIdx.x & 31;
    int p0 = (blockIdx.y * SSD_STEP_WARPS + (threadIdx.x >> 5)) * SSD_STEP_ROWS;
    if (p0 >= head_dim) return;
    int g = h / (heads / groups), inner = heads * head_dim, N = dstate;
    bool runs = N % 128 == 0 && stride % 4 == 0 && inner % 4 == 0; // runs of 4 are 8- or 16-byte aligned
    const act_t* row = xbc + (long long)r * stride;
    const act_t* B = row + inner + g * N;
    const act_t* C = row + inner + (groups + g) * N;
    state_t* __restrict__ S = states[r] + ((long long)h * head_dim + p0) * N;
    // dt as ssd_dt makes it, here, so a decode step needs no separate launch for it.
    float d = fminf(fmaxf(softplus(ld(proj + (long long)r * proj_stride + dt_col + h) + dt_bias[h]), dt_lo), dt_hi);
    float decay = expf(d * A[h]);
    float x[SSD_STEP_ROWS], sv[SSD_STEP_ROWS][SSD_STEP_MAX_PER_LANE], bv[SSD_STEP_MAX_PER_LANE], cv[SSD_STEP_MAX_PER_LANE];
#pragma unroll
    for (int j = 0; j < SSD_STEP_ROWS; j++) x[j] = p0 + j < head_dim ? ld(row + h * head_dim + p0 + j) : 0.f;
    if (runs) {
#pragma unroll
        for (int i = 0; i < SSD_STEP_MAX_PER_LANE; i += 4) {
            int n = ssd_step_column(lane, i, true);
            bool live = n < N;
            if (live) { load4(B + n, bv + i); load4(C + n, cv + i); }
#pragma unroll
            for (int j = 0; j < SSD_STEP_ROWS; j++) {
                if (live && p0 + j < head_dim) load4(S + (long long)j * N + n, sv[j] + i);
                else for (int e = 0; e < 4; e++) sv[j][i + e] = 0.f;
            }
            if (!live) for (int e = 0; e < 4; e++) bv[i + e] = cv[i + e] = 0.f;
        }
    } else {
#pragma unroll
        for (int i = 0; i < SSD_STEP_MAX_PER_LANE; i++) {
            int n = ssd_step_column(lane, i, false);
            bool live = n < N;
            bv[i] = live ? ld(B + n) : 0.f;
            cv[i] = live ? ld(C + n) : 0.f;
#pragma unroll
            for (int j = 0; j < SSD_STEP_ROWS; j++) sv[j][i] = live && p0 + j < head_dim ? ld(S + (long long)j * N + n) : 0.f;
        }
    }
    float partial[SSD_STEP_ROWS];
#pragma unroll
    for (int j = 0; j < SSD_STEP_ROWS; j++) {
        partial[j] = 0.f;
#pragma unroll
        for (int i = 0; i < SSD_STEP_MAX_PER_LANE; i++) {
            sv[j][i] = decay * sv[j][i] + d * x[j] * bv[i];
            partial[j] += sv[j][i] * cv[i];
        }
    }
#pragma unroll
    for (int j = 0; j < SSD_STEP_ROWS; j++) {
        if (p0 + j >= head_dim) break;
        state_t* Sj = S + (long long)j * N;
        if (runs) {
#pragma unroll
            for (int i = 0; i < SSD_STEP_MAX_PER_LANE; i += 4) {
                int n = ssd_step_column(lane, i, true);
                if (n < N) store4(Sj + n, sv[j] + i);
            }
        } else {
#pragma unroll
            for (int i = 0; i < SSD_STEP_MAX_PER_LANE; i++) {
                int n = ssd_step_column(lane, i, false);
                if (n < N) st(Sj + n, sv[j][i]);
            }
        }
    }
#pragma unroll
    for (int j = 0; j < SSD_STEP_ROWS; j++) {
        float sum = warp_sum(partial[j]);
        if (lane == 0 && p0 + j < head_dim) st(y + (long long)r * y_stride + h * head_dim + p0 + j, sum + D[h] * x[j]);
    }
}

#if ACT_BF16
// ---- the chunk scan on the tensor cores (bf16 mode) ---------------------------------------------------------------


// ssd_chunk_scan's two products as m16n8k16 bf16 tensor-core products with float32 accumulation, as mamba_ssm's
// kernel runs them: C[t, :] · S[p, :] (the entering state rounded to bf16) and F[t, s] · x[s, p] with
// F = exp(dA_cs[t] − dA_cs[s]) · cb[t, s] · dt[s] rounded to bf16. Warp w owns rows t0 + 16w .. + 15, all 64 p.
// Needs P = SSD_MMA_P, N % 16 == 0, chunk % SSD_MMA_T == 0. Grid (chunks, H, chunk / SSD_MMA_T), block 128;
// dynamic shared max(2 · 64 · (N + 8), 64 · (64 + 8)) · 2 + 2 · 64 · 4 bytes.
extern "C" __global__ void ssd_chunk_scan_mma(const bf16_t* xbc, int stride, const float* dt, const float* dA_cs, const float* cb,
                                              const float* states, const float* D, bf16_t* y, int y_stride,
                                              int steps, int heads, int groups, int dstate, int chunk) {
    pdl_enter();
    extern __shared__ unsigned char scan_smem[];
    const int P = SSD_MMA_P, N = dstate, ldn = N + 8, ldp = P + 8;
    int c = blockIdx.x, h = blockIdx.y, g_ = h / (heads / groups), inner = heads * P;
    int c0 = c * chunk, c1 = min(steps, c0 + chunk), t0 = c0 + blockIdx.z * SSD_MMA_T;
    if (t0 >= c1) return;
    int t_end = min(c1, t0 + SSD_MMA_T);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, group = lane >> 2, quad = lane & 3;
    float* cs_s = (float*)scan_smem;          // [64] dA_cs of the current s tile
    float* dt_s = cs_s + SSD_MMA_T;           // [64] dt of the current s tile
    bf16_t* buf = (bf16_t*)(dt_s + SSD_MMA_T);
    bf16_t* c_tile = buf;                     // [64 t][ldn]  phase 1
    bf16_t* s_tile = buf + SSD_MMA_T * ldn;   // [64 p][ldn]  phase 1
    bf16_t* x_tile = buf;                     // [64 s][ldp]  phase 2
    const float* cs = dA_cs + (long long)h * steps;
    const float* S = states + ((long long)c * heads + h) * P * N;
    const float* cbc = cb + ((long long)c * groups + g_) * chunk * chunk;
    int row[2] = {t0 + warp * 16 + group, t0 + warp * 16 + group + 8};
    float acc[SSD_MMA_P / 8][4];
#pragma unroll
    for (int nb = 0; nb < SSD_MMA_P / 8; nb++) acc[nb][0] = acc[nb][1] = acc[nb][2] = acc[nb][3] = 0.f;

    // Phase 1: the entering state.
    tile_load(c_tile, ldn, xbc + (long long)t0 * stride + inner + (groups + g_) * N, stride, SSD_MMA_T, t_end - t0, N);
    for (int i = threadIdx.x; i < P * N / 2; i += blockDim.x) {
        int p = (2 * i) / N, n = (2 * i) % N;
        *(unsigned*)(s_tile + p * ldn + n) = pack_bf16(S[(long long)p * N + n], S[(long long)p * N + n + 1]);
    }
    __syncthreads();
    const bf16_t* cw = c_tile + (warp * 16) * ldn;
    for (int k0 = 0; k0 < N; k0 += 16) {
        unsigned a[4] = {*(const unsigned*)(cw + group * ldn + k0 + 2 * quad), *(const unsigned*)(cw + (group + 8) * ldn + k0 + 2 * quad),
                         *(const unsigned*)(cw + group * ldn + k0 + 2 * quad + 8), *(const unsigned*)(cw + (group + 8) * ldn + k0 + 2 * quad + 8)};
#pragma unroll
        for (int nb = 0; nb < SSD_MMA_P / 8; nb++) {
            const bf16_t* sr = s_tile + (nb * 8 + group) * ldn + k0 + 2 * quad;
            mma_bf16(acc[nb], a, *(const unsigned*)sr, *(const unsigned*)(sr + 8));
        }
    }
    float cs_row[2];
    for (int r = 0; r < 2; r++) cs_row[r] = row[r] < t_end ? cs[row[r]] : 0.f;
#pragma unroll
    for (int nb = 0; nb < SSD_MMA_P / 8; nb++) {
        float d0 = row[0] < t_end ? expf(cs_row[0]) : 0.f, d1 = row[1] < t_end ? expf(cs_row[1]) : 0.f;
        acc[nb][0] *= d0; acc[nb][1] *= d0; acc[nb][2] *= d1; acc[nb][3] *= d1;
    }

    // Phase 2: within the chunk, s tiles of 64 up to the block's last row.
    for (int s0 = c0; s0 < t_end; s0 += SSD_MMA_T) {
        __syncthreads();
        tile_load(x_tile, ldp, xbc + (long long)s0 * stride + h * P, stride, SSD_MMA_T, c1 - s0, P);
        for (int i = threadIdx.x; i < SSD_MMA_T; i += blockDim.x) {
            int s = s0 + i;
            cs_s[i] = s < c1 ? cs[s] : 0.f;
            dt_s[i] = s < c1 ? dt[(long long)s * heads + h] : 0.f;
        }
        __syncthreads();
        for (int k0 = 0; k0 < SSD_MMA_T; k0 += 16) {
            // F's A fragment, computed in place: rows (group, group + 8), columns k0 + 2·quad + (0, 1, 8, 9).
            float f[8];
#pragma unroll
            for (int e = 0; e < 8; e++) {
                int r = (e >> 1) & 1, col = k0 + 2 * quad + (e & 1) + (e >= 4 ? 8 : 0), s = s0 + col, t = row[r];
                f[e] = t < t_end && s <= t ? expf(cs_row[r] - cs_s[col]) * cbc[(long long)(t - c0) * chunk + (s - c0)] * dt_s[col] : 0.f;
            }
            unsigned a[4] = {pack_bf16(f[0], f[1]), pack_bf16(f[2], f[3]), pack_bf16(f[4], f[5]), pack_bf16(f[6], f[7])};
            const bf16_t* xr = x_tile + (k0 + 2 * quad) * ldp + group;
#pragma unroll
            for (int nb = 0; nb < SSD_MMA_P / 8; nb++) {
                const bf16_t* x = xr + nb * 8;
                mma_bf16(acc[nb], a, pack_raw(x[0], x[ldp]), pack_raw(x[8 * ldp], x[9 * ldp]));
            }
        }
    }
    for (int r = 0; r < 2; r++) {
        int t = row[r];
        if (t >= t_end) continue;
        const bf16_t* xt = xbc + (long long)t * stride + h * P;
        for (int nb = 0; nb < SSD_MMA_P / 8; nb++) {
            int p = nb * 8 + 2 * quad;
            float v0 = acc[nb][2 * r] + D[h] * bf16_to_f(xt[p]), v1 = acc[nb][2 * r + 1] + D[h] * bf16_to_f(xt[p + 1]);
            *(unsigned*)(y + (long long)t * y_stride + h * P + p) = pack_bf16(v0, v1);
        }
    }
}
#endif

#if ACT_BF16
// cb[c, g, t, s] = C[t] · B[s] on the tensor cores: a block computes one 64 × 64 (t, s) tile of a chunk, warp w rows
// 16w..16w+15; tiles above the diagonal (s > t everywhere) are skipped, as the scan reads s ≤ t only.
// Needs N % 16 == 0. Grid (chunks · G, chunk / 64, chunk / 64), block 128, dynamic shared 2 · 64 · (N + 8) · 2 bytes.
extern "C" __global__ void ssd_chunk_cb_mma(const bf16_t* xbc, int stride, float* cb, int steps, int inner, int groups, int dstate, int chunk) {
    pdl_enter();
    extern __shared__ bf16_t cb_smem[];
    const int N = dstate, ldn = N + 8;
    int c = blockIdx.x / groups, g = blockIdx.x % groups, c0 = c * chunk, c1 = min(steps, c0 + chunk);
    int t0 = c0 + blockIdx.y * 64, s0 = c0 + blockIdx.z * 64;
    if (blockIdx.z > blockIdx.y || t0 >= c1) return;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, group = lane >> 2, quad = lane & 3;
    bf16_t* ct = cb_smem;
    bf16_t* bt = cb_smem + 64 * ldn;
    tile_load(ct, ldn, xbc + (long long)t0 * stride + inner + (groups + g) * N, stride, 64, c1 - t0, N);
    tile_load(bt, ldn, xbc + (long long)s0 * stride + inner + g * N, stride, 64, c1 - s0, N);
    __syncthreads();
    float acc[8][4];
#pragma unroll
    for (int nb = 0; nb < 8; nb++) acc[nb][0] = acc[nb][1] = acc[nb][2] = acc[nb][3] = 0.f;
    const bf16_t* cw = ct + (warp * 16) * ldn;
    for (int k0 = 0; k0 < N; k0 += 16) {
        unsigned a[4] = {*(const unsigned*)(cw + group * ldn + k0 + 2 * quad), *(const unsigned*)(cw + (group + 8) * ldn + k0 + 2 * quad),
                         *(const unsigned*)(cw + group * ldn + k0 + 2 * quad + 8), *(const unsigned*)(cw + (group + 8) * ldn + k0 + 2 * quad + 8)};
#pragma unroll
        for (int nb = 0; nb < 8; nb++) {
            const bf16_t* br = bt + (nb * 8 + group) * ldn + k0 + 2 * quad;
            mma_bf16(acc[nb], a, *(const unsigned*)br, *(const unsigned*)(br + 8));
        }
    }
    float* out = cb + ((long long)c * groups + g) * chunk * chunk;
    for (int r = 0; r < 2; r++) {
        int t = t0 + warp * 16 + group + 8 * r;
        if (t >= c1) continue;
#pragma unroll
        for (int nb = 0; nb < 8; nb++) {
            int s = s0 + nb * 8 + 2 * quad;
            float2 v;
            v.x = acc[nb][2 * r]; v.y = acc[nb][2 * r + 1];
            *(float2*)(out + (long long)(t - c0) * chunk + (s - c0)) = v;
        }
    }
}

// ssd_chunk_state on the tensor cores: states[c, h, p, n] = Σ_s (w[s] · x[s, p]) · B[s, n], w[s] = exp(dA_cs[last] −
// dA_cs[s]) · dt[s], with w·x rounded to bf16 and float32 sums. Both operands are staged transposed ([p][s], [n][s]) so
// every fragment is one 32-bit shared load. Warp w owns p = 16w..16w+15, the block 128 columns n. Needs P = SSD_MMA_P,
// N % 8 == 0. Grid (chunks, H, ceil(N / 128)), block 128.
#define SSD_STATE_S 64
extern "C" __global__ void ssd_chunk_state_mma(const bf16_t* xbc, int stride, const float* dt, const float* dA_cs, float* states,
                                               int steps, int heads, int groups, int dstate, int chunk) {
    pdl_enter();
    const int P = SSD_MMA_P, N = dstate, lds = SSD_STATE_S + 8;
    __shared__ __align__(16) bf16_t xt[SSD_MMA_P * (SSD_STATE_S + 8)];  // [p][s], scaled by w[s]
    __shared__ __align__(16) bf16_t btr[128 * (SSD_STATE_S + 8)];       // [n][s]
    int c = blockIdx.x, h = blockIdx.y, g = h / (heads / groups), inner = heads * P, n0 = blockIdx.z * 128;
    int c0 = c * chunk, c1 = min(steps, c0 + chunk);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, group = lane >> 2, quad = lane & 3;
    const float* cs = dA_cs + (long long)h * steps;
    float last = cs[c1 - 1];
    float acc[16][4];
#pragma unroll
    for (int nb = 0; nb < 16; nb++) acc[nb][0] = acc[nb][1] = acc[nb][2] = acc[nb][3] = 0.f;
    for (int s0 = c0; s0 < c1; s0 += SSD_STATE_S) {
        __syncthreads();
        for (int i = threadIdx.x; i < SSD_STATE_S * (P / 8); i += blockDim.x) {
            int sl = i / (P / 8), p = (i % (P / 8)) * 8, s = s0 + sl;
            float x[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}, w = 0.f;
            if (s < c1) {
                bf16x8_to_f(*(const uint4*)(xbc + (long long)s * stride + h * P + p), x);
                w = expf(last - cs[s]) * dt[(long long)s * heads + h];
            }
            for (int e = 0; e < 8; e++) xt[(p + e) * lds + sl] = f_to_bf16(x[e] * w);
        }
        for (int i = threadIdx.x; i < SSD_STATE_S * 16; i += blockDim.x) {
            int sl = i / 16, n = (i % 16) * 8, s = s0 + sl;
            uint4 v;
            v.x = v.y = v.z = v.w = 0u;
            if (s < c1 && n0 + n < N) v = *(const uint4*)(xbc + (long long)s * stride + inner + g * N + n0 + n);
            unsigned words[4] = {v.x, v.y, v.z, v.w};
            for (int e = 0; e < 8; e++) btr[(n + e) * lds + sl] = (bf16_t)(words[e >> 1] >> (16 * (e & 1)));
        }
        __syncthreads();
        const bf16_t* xw = xt + (warp * 16) * lds;
#pragma unroll
        for (int k0 = 0; k0 < SSD_STATE_S; k0 += 16) {
            unsigned a[4] = {*(const unsigned*)(xw + group * lds + k0 + 2 * quad), *(const unsigned*)(xw + (group + 8) * lds + k0 + 2 * quad),
                             *(const unsigned*)(xw + group * lds + k0 + 2 * quad + 8), *(const unsigned*)(xw + (group + 8) * lds + k0 + 2 * quad + 8)};
#pragma unroll
            for (int nb = 0; nb < 16; nb++) {
                const bf16_t* br = btr + (nb * 8 + group) * lds + k0 + 2 * quad;
                mma_bf16(acc[nb], a, *(const unsigned*)br, *(const unsigned*)(br + 8));
            }
        }
    }
    float* out = states + ((long long)c * heads + h) * P * N;
    for (int r = 0; r < 2; r++) {
        int p = warp * 16 + group + 8 * r;
#pragma unroll
        for (int nb = 0; nb < 16; nb++) {
            int n = n0 + nb * 8 + 2 * quad;
            if (n >= N) continue;
            float2 v;
            v.x = acc[nb][2 * r]; v.y = acc[nb][2 * r + 1];
            *(float2*)(out + (long long)p * N + n) = v;
        }
    }
}
#endif
