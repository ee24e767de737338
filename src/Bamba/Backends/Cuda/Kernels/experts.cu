// Routed experts (mixture of experts) with nothing on the host: the router's top-k, the grouping of token slots by
// expert, and the experts' MLPs all run on the device, with launch shapes that depend only on (rows, k) and the model's
// sizes, so a decode step can be captured in a CUDA graph. A "slot" is one (row, choice) pair: slot = row · k + j.
// Sums run in a fixed order everywhere (no float atomics): results are deterministic.

// ---- routing: ExpertRouter.Route on the device --------------------------------------------------------------------

// exp as the host's MathF.Exp gives it (the correctly rounded float, which double precision rounds to almost always),
// so that the weights match the CPU router's.
__device__ __forceinline__ float route_exp(float x) { return (float)exp((double)x); }
__device__ __forceinline__ float route_sigmoid(float x) { return 1.f / (1.f + route_exp(-x)); }

// The index of the largest value among those not taken (ties: the lower index), on every lane of the warp: the same
// choice as ExpertRouter.TopK's scan for any values but NaN. Lane 0's answer is broadcast, so a NaN cannot split the warp.
__device__ int route_argmax(const float* v, const unsigned char* taken, int n) {
    int lane = threadIdx.x & 31, best_i = -1;
    float best = 0.f;
    for (int i = lane; i < n; i += 32)
        if (!taken[i] && (best_i < 0 || v[i] > best)) { best = v[i]; best_i = i; }
    for (int o = 16; o > 0; o >>= 1) {
        float other = __shfl_xor_sync(FULL_MASK, best, o);
        int other_i = __shfl_xor_sync(FULL_MASK, best_i, o);
        if (other_i >= 0 && (best_i < 0 || other > best || (other == best && other_i < best_i))) { best = other; best_i = other_i; }
    }
    return __shfl_sync(FULL_MASK, best_i, 0);
}

// The k best of v[0..n) in order, largest first, into chosen (shared); taken marks them. One warp.
__device__ void route_top_k(const float* v, unsigned char* taken, int n, int k, int* chosen) {
    for (int j = 0; j < k; j++) {
        int best = route_argmax(v, taken, n);
        if ((threadIdx.x & 31) == 0) { chosen[j] = best; taken[best] = 1; }
        __syncwarp();
    }
}

// Granite: the k largest logits, weighted by a softmax over those k. Grid (rows), block 32.
extern "C" __global__ void route_softmax_topk(const float* logits, int* experts, float* weights, int n_experts, int k) {
    pdl_enter();
    __shared__ float v[MOE_MAX_EXPERTS];
    __shared__ unsigned char taken[MOE_MAX_EXPERTS];
    __shared__ int chosen[MOE_MAX_TOPK];
    int row = blockIdx.x, lane = threadIdx.x;
    const float* l = logits + (long long)row * n_experts;
    for (int i = lane; i < n_experts; i += 32) { v[i] = l[i]; taken[i] = 0; }
    __syncwarp();
    route_top_k(v, taken, n_experts, k, chosen);
    if (lane != 0) return;
    // ExpertRouter.Softmax: shifted by the first (largest) chosen logit, summed in order.
    float max = v[chosen[0]], sum = 0.f;
    float* w = weights + (long long)row * k;
    for (int j = 0; j < k; j++) { w[j] = route_exp(v[chosen[j]] - max); sum += w[j]; }
    for (int j = 0; j < k; j++) { w[j] /= sum; experts[(long long)row * k + j] = chosen[j]; }
}

// Nemotron-H: choice scores σ(logit) + bias; with groups > 1 only the topk_groups groups whose two best scores sum
// highest stay eligible (the others' scores become 0, as ExpertRouter.MaskUnchosenGroups); the k best scores are
// chosen, weighted by σ(logit), normalised when asked (sum from 1e-20), times scale. Grid (rows), block 32.
extern "C" __global__ void route_sigmoid_grouped(const float* logits, const float* bias, int* experts, float* weights,
                                                 int n_experts, int k, int groups, int topk_groups, int normalize, float scale) {
    pdl_enter();
    __shared__ float v[MOE_MAX_EXPERTS];
    __shared__ unsigned char taken[MOE_MAX_EXPERTS];
    __shared__ int chosen[MOE_MAX_TOPK];
    __shared__ float group_score[MOE_MAX_GROUPS];
    __shared__ unsigned char group_kept[MOE_MAX_GROUPS];
    __shared__ int kept[MOE_MAX_GROUPS];
    int row = blockIdx.x, lane = threadIdx.x;
    const float* l = logits + (long long)row * n_experts;
    for (int i = lane; i < n_experts; i += 32) { v[i] = route_sigmoid(l[i]) + (bias ? bias[i] : 0.f); taken[i] = 0; }
    __syncwarp();
    if (groups > 1) {
        int size = n_experts / groups;
        if (lane < groups) {
            // The group's best two (one when a group holds one expert), by the host's own scan, summed from 0 in order.
            const float* part = v + lane * size;
            int b0 = -1, b1 = -1;
            for (int i = 0; i < size; i++) if (b0 < 0 || part[i] > part[b0]) b0 = i;
            if (size > 1)
                for (int i = 0; i < size; i++) if (i != b0 && (b1 < 0 || part[i] > part[b1])) b1 = i;
            float s = 0.f;
            s += part[b0];
            if (b1 >= 0) s += part[b1];
            group_score[lane] = s;
            group_kept[lane] = 0;
        }
        __syncwarp();
        route_top_k(group_score, group_kept, groups, topk_groups, kept);
        for (int i = lane; i < n_experts; i += 32)
            if (!group_kept[i / size]) v[i] = 0.f;
        __syncwarp();
    }
    route_top_k(v, taken, n_experts, k, chosen);
    if (lane != 0) return;
    float* w = weights + (long long)row * k;
    for (int j = 0; j < k; j++) w[j] = route_sigmoid(l[chosen[j]]);
    if (normalize) {
        float sum = 1e-20f;
        for (int j = 0; j < k; j++) sum += w[j];
        for (int j = 0; j < k; j++) w[j] /= sum;
    }
    for (int j = 0; j < k; j++) { w[j] *= scale; experts[(long long)row * k + j] = chosen[j]; }
}

// ---- grouping: a counting sort of the slots by expert, in slot order within each expert ---------------------------

// counts[e] = the slots routed to expert e. Grid (n_experts), block 256 (an integer count: any order gives the same).
extern "C" __global__ void moe_count(const int* experts, int slots, int* counts) {
    pdl_enter();
    int e = blockIdx.x, count = 0;
    for (int base = 0; base < slots; base += blockDim.x) {
        int s = base + threadIdx.x;
        count += __syncthreads_count(s < slots && experts[s] == e);
    }
    if (threadIdx.x == 0) counts[e] = count;
}

// Expert e's block: its first sorted position (offsets[e], the counts before it) and first row tile of MOE_TILE_M
// (tile_start[e]); the last block also writes both totals. Then its slots, in slot order (a ballot and the warps'
// counts: a fixed-order scan), into sorted_slots[p], with position[slot] = p. Grid (n_experts), block 256.
extern "C" __global__ void moe_scatter(const int* experts, int slots, const int* counts, int n_experts, int* offsets,
                                       int* tile_start, int* sorted_slots, int* position) {
    pdl_enter();
    __shared__ int warp_counts[32];
    int e = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    int start = 0, tiles = 0;
    for (int i = 0; i < e; i++) { start += counts[i]; tiles += (counts[i] + MOE_TILE_M - 1) / MOE_TILE_M; }
    if (threadIdx.x == 0) {
        offsets[e] = start;
        tile_start[e] = tiles;
        if (e == n_experts - 1) {
            offsets[n_experts] = start + counts[e];
            tile_start[n_experts] = tiles + (counts[e] + MOE_TILE_M - 1) / MOE_TILE_M;
        }
    }
    int running = start;
    for (int base = 0; base < slots; base += blockDim.x) {
        int s = base + threadIdx.x;
        bool mine = s < slots && experts[s] == e;
        unsigned ballot = __ballot_sync(FULL_MASK, mine);
        if (lane == 0) warp_counts[warp] = __popc(ballot);
        __syncthreads();
        int before = running, total = 0;
        for (int w = 0; w < warps; w++) { total += warp_counts[w]; if (w < warp) before += warp_counts[w]; }
        if (mine) {
            int p = before + __popc(ballot & ((1u << lane) - 1u));
            sorted_slots[p] = s;
            position[s] = p;
        }
        running += total;
        __syncthreads(); // warp_counts is rewritten by the next tile
    }
}

// ---- routed GEMVs: decode rows (and every row in the fp32 parity mode) read only their chosen experts' rows ---------

// Σ x[i]·w[i] over n (a multiple of 8, both 16-byte aligned) on one warp, every lane returning it.
__device__ __forceinline__ float moe_warp_dot(const act_t* x, const act_t* w, int n) {
    float acc = 0.f;
#pragma unroll 4
    for (int i = (threadIdx.x & 31) * 8; i < n; i += 32 * 8) {
        float a[8], b[8];
        load8(w + i, b);
        load8(x + i, a);
        for (int t = 0; t < 8; t++) acc += a[t] * b[t];
    }
    return warp_sum(acc);
}

// hidden[s, i] for each slot s = (row, j): gated experts silu(gate_i · x) · (up_i · x) from up = [gate; up] rows of
// expert experts[s] (2·inter rows); otherwise relu(up_i · x)². Rounded as the unfused product then activation round
// them. Grid (slots, ceil(inter / GEMV_WARPS)), block 32 · GEMV_WARPS: a warp per (slot, i).
extern "C" __global__ void moe_up_gemv(const act_t* x, int hidden, const int* experts, int k, const unsigned long long* up_table,
                                       act_t* out, int inter, int gated) {
    pdl_enter();
    int s = blockIdx.x, i = blockIdx.y * GEMV_WARPS + (threadIdx.x >> 5);
    if (i >= inter) return;
    const act_t* w = (const act_t*)up_table[experts[s]];
    const act_t* xr = x + (long long)(s / k) * hidden;
    float v;
    if (gated) {
        float g = moe_warp_dot(xr, w + (long long)i * hidden, hidden);
        float u = moe_warp_dot(xr, w + (long long)(inter + i) * hidden, hidden);
        v = silu(act_round(g)) * act_round(u);
    } else {
        float r = fmaxf(act_round(moe_warp_dot(xr, w + (long long)i * hidden, hidden)), 0.f);
        v = r * r;
    }
    if ((threadIdx.x & 31) == 0) st(out + (long long)s * inter + i, v);
}

// out[row, c] = Σ_j weights[row, j] · (down_e · hidden[row·k + j])_c over j in order, e = experts[row·k + j], each
// product rounded to the activation type as a stored expert output is; plus shared[row, c] when given. Grid (rows,
// hidden), block 32 · GEMV_WARPS: warp w takes choices w, w + GEMV_WARPS, ...
extern "C" __global__ void moe_down_gemv(const act_t* h, int inter, const int* experts, const float* weights, int k,
                                         const unsigned long long* down_table, const act_t* shared, act_t* out, int hidden) {
    pdl_enter();
    __shared__ float partial[MOE_MAX_TOPK];
    int row = blockIdx.x, c = blockIdx.y, warp = threadIdx.x >> 5;
    for (int j = warp; j < k; j += GEMV_WARPS) {
        int s = row * k + j;
        const act_t* w = (const act_t*)down_table[experts[s]] + (long long)c * inter;
        float d = moe_warp_dot(h + (long long)s * inter, w, inter);
        if ((threadIdx.x & 31) == 0) partial[j] = act_round(d);
    }
    __syncthreads();
    if (threadIdx.x != 0) return;
    float acc = 0.f;
    for (int j = 0; j < k; j++) acc += weights[(long long)row * k + j] * partial[j];
    long long o = (long long)row * hidden + c;
    st(out + o, acc + (shared ? ld(shared + o) : 0.f));
}

// ---- prefill: grouped GEMMs over the sorted slots, then the weighted sum back per token ----------------------------

// out[t, c] = Σ_j weights[t, j] · y[position[t·k + j], c] over j in order (+ shared[t, c]): the experts' outputs, in
// sorted order, back to their tokens. Grid (rows, ceil(hidden / 256)), block 256.
extern "C" __global__ void moe_combine(const act_t* y, const int* position, const float* weights, int k, const act_t* shared,
                                       act_t* out, int hidden) {
    pdl_enter();
    int t = blockIdx.x, c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= hidden) return;
    float acc = 0.f;
    for (int j = 0; j < k; j++)
        acc += weights[(long long)t * k + j] * ld(y + (long long)position[t * k + j] * hidden + c);
    long long o = (long long)t * hidden + c;
    st(out + o, acc + (shared ? ld(shared + o) : 0.f));
}

#if ACT_BF16
#if MOE_TILE_M != 64
#error "moe_grouped_gemm's warps cover 64 rows"
#endif
// c[p, :] = a[row(p), :] · W_eᵀ for each sorted position p of expert e, on the tensor cores: W_e = b_table[e] is
// [n, kdim] row-major, row(p) = sorted_slots[p] / topk (the slot's token) when sorted_slots is given, else p. A block
// takes one MOE_TILE_M × 64 tile of one expert: blockIdx.y counts the experts' row tiles (tile_start, from
// moe_scatter), blocks past the last tile return, so the grid is sized by the slots alone. kdim % 8 == 0.
// Four warps, each 32 × 32 of the tile (2 × 4 m16n8k16 products per 16 of k); the next 32 of k are loaded into
// registers while the current ones are multiplied. Grid (ceil(n / 64), ceil(slots / MOE_TILE_M) + experts), block 128.
extern "C" __global__ void __launch_bounds__(128) moe_grouped_gemm(const bf16_t* a, const int* sorted_slots, int topk,
        const unsigned long long* b_table, const int* offsets, const int* tile_start, int n_experts, bf16_t* c, int n, int kdim) {
    pdl_enter();
    const int LD = 40; // 32 of k + 8: rows 80 bytes apart, so the fragment reads hit distinct banks
    __shared__ __align__(16) bf16_t as[MOE_TILE_M * LD];
    __shared__ __align__(16) bf16_t bs[64 * LD];
    int tile = blockIdx.y;
    if (tile >= tile_start[n_experts]) return;
    int lo = 0, hi = n_experts - 1; // the last expert whose tiles start at or before this one (an empty one never is)
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (tile_start[mid] <= tile) lo = mid; else hi = mid - 1;
    }
    int e = lo, m0 = offsets[e] + (tile - tile_start[e]) * MOE_TILE_M, m_end = offsets[e + 1], n0 = blockIdx.x * 64;
    const bf16_t* w = (const bf16_t*)b_table[e];
    // Each thread copies two 16-byte pieces of each operand per 32 of k: piece id = thread + 128·i, row id / 4, column (id % 4)·8.
    long long a_row[2];
    int b_row[2], col[2], r_of[2];
    for (int i = 0; i < 2; i++) {
        int id = threadIdx.x + 128 * i, r = id >> 2, p = m0 + r;
        r_of[i] = r;
        col[i] = (id & 3) * 8;
        a_row[i] = p < m_end ? (long long)(sorted_slots ? sorted_slots[p] / topk : p) : -1;
        b_row[i] = n0 + r < n ? n0 + r : -1;
    }
    uint4 ra[2], rb[2];
    auto fetch = [&](int k0) {
        for (int i = 0; i < 2; i++) {
            int kk = k0 + col[i];
            ra[i].x = ra[i].y = ra[i].z = ra[i].w = 0u;
            rb[i].x = rb[i].y = rb[i].z = rb[i].w = 0u;
            if (a_row[i] >= 0 && kk < kdim) ra[i] = *(const uint4*)(a + a_row[i] * kdim + kk);
            if (b_row[i] >= 0 && kk < kdim) rb[i] = *(const uint4*)(w + (long long)b_row[i] * kdim + kk);
        }
    };
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, group = lane >> 2, quad = lane & 3;
    int wm = (warp >> 1) * 32, wn = (warp & 1) * 32;
    float acc[2][4][4];
    for (int mi = 0; mi < 2; mi++)
        for (int ni = 0; ni < 4; ni++) acc[mi][ni][0] = acc[mi][ni][1] = acc[mi][ni][2] = acc[mi][ni][3] = 0.f;
    fetch(0);
    for (int k0 = 0; k0 < kdim; k0 += 32) {
        __syncthreads(); // the previous step's fragments are read
        for (int i = 0; i < 2; i++) {
            *(uint4*)(as + r_of[i] * LD + col[i]) = ra[i];
            *(uint4*)(bs + r_of[i] * LD + col[i]) = rb[i];
        }
        __syncthreads();
        if (k0 + 32 < kdim) fetch(k0 + 32);
#pragma unroll
        for (int ks = 0; ks < 32; ks += 16) {
            unsigned af[2][4];
            for (int mi = 0; mi < 2; mi++) {
                const bf16_t* ar = as + (wm + mi * 16) * LD + ks + 2 * quad;
                af[mi][0] = *(const unsigned*)(ar + group * LD);
                af[mi][1] = *(const unsigned*)(ar + (group + 8) * LD);
                af[mi][2] = *(const unsigned*)(ar + group * LD + 8);
                af[mi][3] = *(const unsigned*)(ar + (group + 8) * LD + 8);
            }
#pragma unroll
            for (int ni = 0; ni < 4; ni++) {
                const bf16_t* br = bs + (wn + ni * 8 + group) * LD + ks + 2 * quad;
                unsigned b0 = *(const unsigned*)br, b1 = *(const unsigned*)(br + 8);
                mma_bf16(acc[0][ni], af[0], b0, b1);
                mma_bf16(acc[1][ni], af[1], b0, b1);
            }
        }
    }
    for (int mi = 0; mi < 2; mi++)
        for (int ni = 0; ni < 4; ni++)
            for (int h = 0; h < 2; h++) {
                int p = m0 + wm + mi * 16 + group + 8 * h, cc = n0 + wn + ni * 8 + 2 * quad;
                if (p >= m_end) continue;
                bf16_t* o = c + (long long)p * n + cc;
                if (cc < n) st(o, acc[mi][ni][2 * h]);
                if (cc + 1 < n) st(o + 1, acc[mi][ni][2 * h + 1]);
            }
}
#endif
