#define SSD_BWD_MAX_STATE 256
// Gradient of the Mamba-2 scan for every packed sequence at once, through the exact sequential recurrence
// S_t = α_t S_{t−1} + dt_t x_t ⊗ B_t, α_t = exp(dt_t·A), y_t = S_t·C_t + D x_t (the CPU twin: SsdScanBackward;
// the chunked forward computes the same function). Grid (sequences, heads); block: head_dim threads rounded up to
// whole warps; thread i owns row i of the head's state and of its gradient. The backward needs every step's state;
// rather than all of them ([rows, inner, N], 17 GB for 4096 rows of Bamba-9B), the way forward keeps the state
// entering each chunk of `interval` steps (`checkpoints`: for each sequence, its chunks after the first, in order),
// and the way back recomputes one chunk's states from its checkpoint into `chunk` (for each sequence, min(interval,
// length) slots) before walking that chunk backwards. Both passes update the state with the same fmaf, so the
// recomputed states are the forward's bit for bit. Per-row sums over the head's rows (dB, dC per head, dt) go through
// the dynamic shared memory (blockDim.x · N floats) and block_sum; dB and dC are summed over a group's heads by
// train_ssd_group_sum, dA and dD over the sequences by train_ssd_param_grads.
extern "C" __global__ void train_ssd_backward(const float* xbc, int conv_dim, const float* dt, const float* A, const float* D,
                                              const float* dy, const int* seq_offsets, float* checkpoints, float* chunk, int interval,
                                              float* dxbc, float* ddt, float* dB_head, float* dC_head, float* dA_seq, float* dD_seq,
                                              int heads, int P, int groups, int N) {
    extern __shared__ float red[];
    int seq = blockIdx.x, h = blockIdx.y, i = threadIdx.x;
    bool active = i < P;
    int inner = heads * P, g = h / (heads / groups);
    int r0 = seq_offsets[seq], r1 = seq_offsets[seq + 1];
    int bcol = inner + g * N, ccol = inner + (groups + g) * N;
    float a = A[h], d = D[h];
    // This sequence's first checkpoint and chunk slot: after those of the sequences before it.
    long long first_checkpoint = 0, first_slot = 0;
    for (int q = 0; q < seq; q++) {
        int len = seq_offsets[q + 1] - seq_offsets[q];
        if (len > 0) first_checkpoint += (len + interval - 1) / interval - 1;
        first_slot += min(interval, len);
    }
    long long row_elems = (long long)inner * N, mine = (long long)(h * P + i) * N;
    float S[SSD_BWD_MAX_STATE];
    for (int n = 0; n < N; n++) S[n] = 0.f;

    for (int r = r0; r < r1 && active; r++) {
        const float* row = xbc + (long long)r * conv_dim;
        float step = dt[r * heads + h], alpha = expf(step * a), xs = step * row[h * P + i];
        for (int n = 0; n < N; n++) S[n] = fmaf(alpha, S[n], xs * row[bcol + n]);
        int done = r - r0 + 1; // steps taken; the state entering chunk done / interval when that is a chunk start
        if (done % interval == 0 && r + 1 < r1) {
            float* out = checkpoints + (first_checkpoint + done / interval - 1) * row_elems + mine;
            for (int n = 0; n < N; n++) out[n] = S[n];
        }
    }

    for (int n = 0; n < N; n++) S[n] = 0.f; // from here on S holds dS, the gradient of the state
    float dA_acc = 0.f, dD_acc = 0.f;
    int chunks = (r1 - r0 + interval - 1) / interval;
    for (int c = chunks - 1; c >= 0; c--) {
        int cs = r0 + c * interval, ce = min(cs + interval, r1);
        // The state entering the chunk: zero for the sequence's first, else the checkpoint the way forward kept.
        const float* entering = c > 0 ? checkpoints + (first_checkpoint + c - 1) * row_elems + mine : nullptr;
        float* states = chunk + first_slot * row_elems + mine; // the chunk's step k at states + k · row_elems
        for (int r = cs; r < ce && active; r++) {
            const float* row = xbc + (long long)r * conv_dim;
            float step = dt[r * heads + h], alpha = expf(step * a), xs = step * row[h * P + i];
            const float* prev = r > cs ? states + (long long)(r - cs - 1) * row_elems : entering;
            float* out = states + (long long)(r - cs) * row_elems;
            for (int n = 0; n < N; n++) out[n] = fmaf(alpha, prev ? prev[n] : 0.f, xs * row[bcol + n]);
        }
        for (int r = ce - 1; r >= cs; r--) {
            const float* row = xbc + (long long)r * conv_dim;
            float step = dt[r * heads + h], alpha = expf(step * a);
            float dyi = active ? dy[(long long)r * inner + h * P + i] : 0.f, xi = active ? row[h * P + i] : 0.f;
            const float* st = states + (long long)(r - cs) * row_elems;
            const float* before = r > cs ? st - row_elems : entering; // S_{t−1}; none at the sequence's first step
            dD_acc += dyi * xi;
            for (int n = 0; n < N; n++) {
                if (active) S[n] += row[ccol + n] * dyi;          // y_t = S_t·C_t
                red[i * N + n] = active ? st[n] * dyi : 0.f;      // dC_t = Σ_i S_t[i]·dy_t[i]
            }
            __syncthreads();
            for (int n = threadIdx.x; n < N; n += blockDim.x) {
                float acc = 0.f;
                for (int k = 0; k < P; k++) acc += red[k * N + n];
                dC_head[((long long)r * heads + h) * N + n] = acc;
            }
            __syncthreads();
            float dalpha = 0.f, dsb = 0.f;
            for (int n = 0; n < N; n++) {
                if (active) {
                    if (before) dalpha += S[n] * before[n];
                    dsb += S[n] * row[bcol + n];
                }
                red[i * N + n] = active ? S[n] * (step * xi) : 0.f;  // dB_t = Σ_i dS[i]·dt·x_i
            }
            __syncthreads();
            for (int n = threadIdx.x; n < N; n += blockDim.x) {
                float acc = 0.f;
                for (int k = 0; k < P; k++) acc += red[k * N + n];
                dB_head[((long long)r * heads + h) * N + n] = acc;
            }
            if (active) dxbc[(long long)r * conv_dim + h * P + i] = d * dyi + step * dsb;
            float dstep = block_sum(xi * dsb + dalpha * alpha * a); // its barriers also end this step's reads of red
            if (threadIdx.x == 0) ddt[r * heads + h] = dstep;
            dA_acc += dalpha * alpha * step;
            if (active)
                for (int n = 0; n < N; n++) S[n] *= alpha;
        }
    }
    float dA_total = block_sum(dA_acc), dD_total = block_sum(dD_acc);
    if (threadIdx.x == 0) { dA_seq[seq * heads + h] = dA_total; dD_seq[seq * heads + h] = dD_total; }
}

// The B and C columns of dxbc: the per-head sums of train_ssd_backward added over each group's heads.
// Grid (ceil(2·groups·N / block), rows).
extern "C" __global__ void train_ssd_group_sum(const float* dB_head, const float* dC_head, float* dxbc, int conv_dim, int inner,
                                               int heads, int groups, int N) {
    int r = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= 2 * groups * N) return;
    bool is_c = c >= groups * N;
    int cc = is_c ? c - groups * N : c, g = cc / N, n = cc % N, per_group = heads / groups;
    const float* src = is_c ? dC_head : dB_head;
    float acc = 0.f;
    for (int h = g * per_group; h < (g + 1) * per_group; h++) acc += src[((long long)r * heads + h) * N + n];
    dxbc[(long long)r * conv_dim + inner + c] = acc;
}

// dA_log[h] += A[h]·Σ_seq dA (A = −exp(A_log), so dA/dA_log = A) and dD[h] += Σ_seq dD. One thread per head.
extern "C" __global__ void train_ssd_param_grads(const float* dA_seq, const float* dD_seq, const float* A, int seqs, int heads,
                                                 float* dA_log, float* dD) {
    int h = blockIdx.x * blockDim.x + threadIdx.x;
    if (h >= heads) return;
    float da = 0.f, dd = 0.f;
    for (int s = 0; s < seqs; s++) { da += dA_seq[s * heads + h]; dd += dD_seq[s * heads + h]; }
    dA_log[h] += da * A[h];
    dD[h] += dd;
}
