// Mamba-2 SSD (state-space duality), chunked as mamba_ssm's ssd_combined does it: chunk cumsum → chunk state →
// state passing → chunk scan, plus the one-step selective state update for decode.
// Layout of one run of `steps` tokens: xbc [steps, stride] holds x at column h·P + p, B at inner + g·N + n and C at
// inner + (G + g)·N + n; dt [steps, H] (float32); dA_cs [H, steps]; states [chunks, H, P·N]; the sequence's SSM
// state [H, P·N] float32. Head h reads group g = h / (H / G).

#define SSD_TILE 16

// dt = clamp(softplus(dt_raw + dt_bias), lo, hi) for every row. dt_raw is column dt_col of the in_proj output.
extern "C" __global__ void ssd_dt(const act_t* proj, int proj_stride, int dt_col, const float* dt_bias, float* dt,
                                  int rows, int heads, float lo, float hi) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * heads) return;
    int r = i / heads, h = i % heads;
    float v = softplus(ld(proj + (long long)r * proj_stride + dt_col + h) + dt_bias[h]);
    dt[i] = fminf(fmaxf(v, lo), hi);
}

// dA_cs[h, t] = Σ_{s = chunk start .. t} dt[s, h] · A[h]: the within-chunk cumulative log-decay.
extern "C" __global__ void ssd_chunk_cumsum(const float* dt, const float* A, float* dA_cs, int steps, int heads, int chunk) {
    int i = blockIdx.x * blockDim.x + threadIdx.x, chunks = (steps + chunk - 1) / chunk;
    if (i >= chunks * heads) return;
    int c = i / heads, h = i % heads, end = min(steps, (c + 1) * chunk);
    float s = 0.f, a = A[h];
    for (int t = c * chunk; t < end; t++) { s += dt[t * heads + h] * a; dA_cs[(long long)h * steps + t] = s; }
}

// cb[c, g, t, s] = C[t] · B[s] for t, s in chunk c (the "attention" scores shared by a group's heads).
// Grid (chunks · G, chunk), block over s.
extern "C" __global__ void ssd_chunk_cb(const act_t* xbc, int stride, float* cb, int steps, int inner, int groups, int dstate, int chunk) {
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

// states[c, h, p, n] = Σ_{s in chunk c} exp(dA_cs[last] − dA_cs[s]) · dt[s] · x[s, p] · B[s, n]: what chunk c adds to
// the state, as of its last step. Grid (chunks, H, ceil(P·N / (8·block))); shared tiles of SSD_TILE steps.
extern "C" __global__ void ssd_chunk_state(const act_t* xbc, int stride, const float* dt, const float* dA_cs, float* states,
                                           int steps, int heads, int head_dim, int groups, int dstate, int chunk) {
    extern __shared__ float smem[];
    const int P = head_dim, N = dstate, PN = P * N;
    int c = blockIdx.x, h = blockIdx.y, g = h / (heads / groups), inner = heads * P;
    int c0 = c * chunk, c1 = min(steps, c0 + chunk);
    float* xs = smem;                 // [TILE][P]
    float* bs = xs + SSD_TILE * P;    // [TILE][N]
    float* ws = bs + SSD_TILE * N;    // [TILE]
    const float* cs = dA_cs + (long long)h * steps;
    float last = cs[c1 - 1];
    float acc[8];
    for (int k = 0; k < 8; k++) acc[k] = 0.f;
    int base = blockIdx.z * 8 * blockDim.x;
    for (int s0 = c0; s0 < c1; s0 += SSD_TILE) {
        __syncthreads();
        for (int i = threadIdx.x; i < SSD_TILE * P; i += blockDim.x) {
            int s = s0 + i / P;
            xs[i] = s < c1 ? ld(xbc + (long long)s * stride + h * P + i % P) : 0.f;
        }
        for (int i = threadIdx.x; i < SSD_TILE * N; i += blockDim.x) {
            int s = s0 + i / N;
            bs[i] = s < c1 ? ld(xbc + (long long)s * stride + inner + g * N + i % N) : 0.f;
        }
        for (int i = threadIdx.x; i < SSD_TILE; i += blockDim.x) {
            int s = s0 + i;
            ws[i] = s < c1 ? expf(last - cs[s]) * dt[s * heads + h] : 0.f;
        }
        __syncthreads();
        for (int k = 0; k < 8; k++) {
            int e = base + threadIdx.x + k * blockDim.x;
            if (e >= PN) break;
            int p = e / N, n = e % N;
            float a = acc[k];
            for (int j = 0; j < SSD_TILE; j++) a += ws[j] * xs[j * P + p] * bs[j * N + n];
            acc[k] = a;
        }
    }
    for (int k = 0; k < 8; k++) {
        int e = base + threadIdx.x + k * blockDim.x;
        if (e < PN) states[((long long)c * heads + h) * PN + e] = acc[k];
    }
}

// Walks the chunks in order: states[c] becomes the state entering chunk c, and `state` (the sequence's, initial on
// entry) becomes the state after the run: S ← exp(dA_cs[last of c]) · S + states[c]. Grid (ceil(P·N / block), H).
extern "C" __global__ void ssd_state_passing(float* states, const float* dA_cs, float* state, int steps, int heads, int pn, int chunk) {
    int e = blockIdx.x * blockDim.x + threadIdx.x, h = blockIdx.y;
    if (e >= pn) return;
    int chunks = (steps + chunk - 1) / chunk;
    float s = state[(long long)h * pn + e];
    for (int c = 0; c < chunks; c++) {
        long long idx = ((long long)c * heads + h) * pn + e;
        float added = states[idx];
        states[idx] = s;
        int last = min(steps, (c + 1) * chunk) - 1;
        s = expf(dA_cs[(long long)h * steps + last]) * s + added;
    }
    state[(long long)h * pn + e] = s;
}

// y[t, h, p] = exp(dA_cs[t]) · Σ_n C[t, n] S_c[p, n]                       (the state entering chunk c)
//            + Σ_{s ≤ t in chunk} exp(dA_cs[t] − dA_cs[s]) · cb[t, s] · dt[s] · x[s, p]   (within the chunk)
//            + D[h] · x[t, p].
// Grid (chunks, H, ceil(chunk / SSD_TILE)): a block owns SSD_TILE rows × P columns of one head.
extern "C" __global__ void ssd_chunk_scan(const act_t* xbc, int stride, const float* dt, const float* dA_cs, const float* cb,
                                          const float* states, const float* D, act_t* y, int y_stride,
                                          int steps, int heads, int head_dim, int groups, int dstate, int chunk) {
    extern __shared__ float smem[];
    const int P = head_dim, N = dstate, PN = P * N;
    int c = blockIdx.x, h = blockIdx.y, g = h / (heads / groups), inner = heads * P;
    int c0 = c * chunk, c1 = min(steps, c0 + chunk);
    int t0 = c0 + blockIdx.z * SSD_TILE;
    if (t0 >= c1) return;
    int t_last = min(c1, t0 + SSD_TILE) - 1;
    float* cs_tile = smem;                 // [TILE][N]   C rows of this block
    float* xs = cs_tile + SSD_TILE * N;    // [TILE][P]   x rows of the current s tile
    float* f = xs + SSD_TILE * P;          // [TILE][TILE] decay · cb · dt for (t, s)
    const float* cs = dA_cs + (long long)h * steps;
    const float* S = states + ((long long)c * heads + h) * PN;
    for (int i = threadIdx.x; i < SSD_TILE * N; i += blockDim.x) {
        int t = t0 + i / N;
        cs_tile[i] = t <= t_last ? ld(xbc + (long long)t * stride + inner + (groups + g) * N + i % N) : 0.f;
    }
    __syncthreads();
    float acc[16];
    for (int k = 0; k < 16; k++) {
        acc[k] = 0.f;
        int e = threadIdx.x + k * blockDim.x;
        if (e >= SSD_TILE * P) continue;
        int tl = e / P, p = e % P;
        if (t0 + tl > t_last) continue;
        float a = 0.f;
        for (int n = 0; n < N; n++) a += cs_tile[tl * N + n] * S[p * N + n];
        acc[k] = expf(cs[t0 + tl]) * a;
    }
    for (int s0 = c0; s0 <= t_last; s0 += SSD_TILE) {
        __syncthreads();
        for (int i = threadIdx.x; i < SSD_TILE * P; i += blockDim.x) {
            int s = s0 + i / P;
            xs[i] = s < c1 ? ld(xbc + (long long)s * stride + h * P + i % P) : 0.f;
        }
        for (int i = threadIdx.x; i < SSD_TILE * SSD_TILE; i += blockDim.x) {
            int t = t0 + i / SSD_TILE, s = s0 + i % SSD_TILE;
            f[i] = (t <= t_last && s <= t)
                ? expf(cs[t] - cs[s]) * cb[(((long long)c * groups + g) * chunk + (t - c0)) * chunk + (s - c0)] * dt[s * heads + h]
                : 0.f;
        }
        __syncthreads();
        for (int k = 0; k < 16; k++) {
            int e = threadIdx.x + k * blockDim.x;
            if (e >= SSD_TILE * P) break;
            int tl = e / P, p = e % P;
            float a = acc[k];
            for (int j = 0; j < SSD_TILE; j++) a += f[tl * SSD_TILE + j] * xs[j * P + p];
            acc[k] = a;
        }
    }
    for (int k = 0; k < 16; k++) {
        int e = threadIdx.x + k * blockDim.x;
        if (e >= SSD_TILE * P) break;
        int tl = e / P, p = e % P, t = t0 + tl;
        if (t > t_last) continue;
        float x = ld(xbc + (long long)t * stride + h * P + p);
        st(y + (long long)t * y_stride + h * P + p, acc[k] + D[h] * x);
    }
}

// One decode step for many sequences (row r's state is states[r]): S ← exp(dt·A)·S + dt·x⊗B; y = S·C + D·x.
// Grid (H, rows), block of warps; each warp owns rows p of the head's state, its lanes the state columns n.
extern "C" __global__ void ssd_step(const act_t* xbc, int stride, const float* dt, const float* A, const float* D,
                                    float* const* states, act_t* y, int y_stride, int heads, int head_dim, int groups, int dstate) {
    int h = blockIdx.x, r = blockIdx.y, lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    int g = h / (heads / groups), inner = heads * head_dim, N = dstate;
    const act_t* row = xbc + (long long)r * stride;
    float d = dt[r * heads + h], decay = expf(d * A[h]);
    float* S = states[r] + (long long)h * head_dim * N;
    for (int p = warp; p < head_dim; p += warps) {
        float x = ld(row + h * head_dim + p), partial = 0.f;
        for (int n = lane; n < N; n += 32) {
            float s = decay * S[p * N + n] + d * x * ld(row + inner + g * N + n);
            S[p * N + n] = s;
            partial += s * ld(row + inner + (groups + g) * N + n);
        }
        float sum = warp_sum(partial);
        if (lane == 0) st(y + (long long)r * y_stride + h * head_dim + p, sum + D[h] * x);
    }
}
