// Routed experts (mixture of experts) with nothing on the host: the router's top-k, the grouping of token slots by
// expert, and the experts' MLPs all run on the device, with launch shapes that depend only on (rows, k) and the model's
// sizes, so a decode step can be captured in a CUDA graph. A "slot" is one (row, choice) pair: slot = row · k + j.
// Sums run in a fixed order everywhere (no float atomics): results are deterministic.

// ---- the router's product for decode rows ---------------------------------------------------------------------------

// logits[r, e] = x[r, :] · w[e, :] in float32 (w is the router's float32 matrix [n_experts, hidden], x activation
// rows widened as they are read; hidden % 8 == 0): one launch where widening the rows and a cuBLASLt product of one
// row would be two. Grid (rows, ceil(n_experts / GEMV_WARPS)), block 32 · GEMV_WARPS: a warp per logit.
extern "C" __global__ void moe_router_gemv(const act_t* x, const float* w, float* logits, int hidden, int n_experts) {
    pdl_enter();
    int r = blockIdx.x, e = blockIdx.y * GEMV_WARPS + (threadIdx.x >> 5);
    if (e >= n_experts) return;
    const act_t* xr = x + (long long)r * hidden;
    const float* wr = w + (long long)e * hidden;
    float acc = 0.f;
#pragma unroll 4
    for (int i = (threadIdx.x & 31) * 8; i < hidden; i += 32 * 8) {
        float a[8];
        load8(xr + i, a);
        float4 b0 = *(const float4*)(wr + i), b1 = *(const float4*)(wr + i + 4);
        acc += a[0] * b0.x + a[1] * b0.y + a[2] * b0.z + a[3] * b0.w + a[4] * b1.x + a[5] * b1.y + a[6] * b1.z + a[7] * b1.w;
    }
    acc = warp_sum(acc);
    if ((threadIdx.x & 31) == 0) logits[(long long)r * n_experts + e] = acc;
}

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
        // The gate and up rows in one loop, so both rows' loads are in flight together.
        const act_t* wg = w + (long long)i * hidden;
        const act_t* wu = w + (long long)(inter + i) * hidden;
        float g = 0.f, u = 0.f;
#pragma unroll 2
        for (int j = (threadIdx.x & 31) * 8; j < hidden; j += 32 * 8) {
            float a[8], bg[8], bu[8];
            load8(wg + j, bg);
            load8(wu + j, bu);
            load8(xr + j, a);
            for (int t = 0; t < 8; t++) { g += a[t] * bg[t]; u += a[t] * bu[t]; }
        }
        v = silu(act_round(warp_sum(g))) * act_round(warp_sum(u));
    } else {
        float r = fmaxf(act_round(moe_warp_dot(xr, w + (long long)i * hidden, hidden)), 0.f);
        v = r * r;
    }
    if ((threadIdx.x & 31) == 0) st(out + (long long)s * inter + i, v);
}

// out[row, c] = Σ_j weights[row, j] · (down_e · hidden[row·k + j])_c over j in order, e = experts[row·k + j], each
// product rounded to the activation type as a stored expert output is; plus shared[row, c] when given. A warp per
// (row, c) walks its k choices two at a time, so two weight rows' loads are in flight together. Grid (rows,
// ceil(hidden / MOE_DOWN_WARPS)), block 32 · MOE_DOWN_WARPS.
extern "C" __global__ void moe_down_gemv(const act_t* h, int inter, const int* experts, const float* weights, int k,
                                         const unsigned long long* down_table, const act_t* shared, act_t* out, int hidden) {
    pdl_enter();
    int row = blockIdx.x, c = blockIdx.y * MOE_DOWN_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (c >= hidden) return;
    const int* chosen = experts + (long long)row * k;
    const float* weight = weights + (long long)row * k;
    const act_t* hr = h + (long long)row * k * inter;
    float acc = 0.f;
    for (int j = 0; j < k; j += 2) {
        int j1 = j + 1 < k ? j + 1 : j; // an odd k's last pair is one choice read twice, its second sum unused
        const act_t* w0 = (const act_t*)down_table[chosen[j]] + (long long)c * inter;
        const act_t* w1 = (const act_t*)down_table[chosen[j1]] + (long long)c * inter;
        const act_t* h0 = hr + (long long)j * inter;
        const act_t* h1 = hr + (long long)j1 * inter;
        float d0 = 0.f, d1 = 0.f;
        for (int i = lane * 8; i < inter; i += 32 * 8) {
            float a0[8], b0[8], a1[8], b1[8];
            load8(w0 + i, b0);
            load8(w1 + i, b1);
            load8(h0 + i, a0);
            load8(h1 + i, a1);
            for (int t = 0; t < 8; t++) { d0 += a0[t] * b0[t]; d1 += a1[t] * b1[t]; }
        }
        acc += weight[j] * act_round(warp_sum(d0));
        if (j1 != j) acc += weight[j1] * act_round(warp_sum(d1));
    }
    if (lane != 0) return;
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
#if MOE_TILE_M != 128
#error "moe_grouped_gemm's warps cover 128 rows"
#endif
// Asynchronous global → shared copies (sm_80+): 16 bytes, or zeros when bytes is 0 (a row or k past the operand's end).
__device__ __forceinline__ unsigned shared_address(const void* p) {
    unsigned a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}
__device__ __forceinline__ void copy_async16(unsigned dst, const void* src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" :: "r"(dst), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Four 8 × 8 bf16 matrices from shared memory, lane l giving the address of row l % 8 of matrix l / 8.
__device__ __forceinline__ void ldmatrix_x4(unsigned* r, unsigned address) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
}

#define MOE_GEMM_LD 40 // 32 of k + 8: rows 80 bytes apart, so ldmatrix's eight rows hit distinct banks
#define MOE_GEMM_STAGE_ELEMS ((MOE_TILE_M + 128) * MOE_GEMM_LD) // the slots' rows, then the weights'

// c[p, :] = a[row(p), :] · W_eᵀ for each sorted position p of expert e, on the tensor cores: W_e = b_table[e] is
// [n, kdim] row-major, row(p) = sorted_slots[p] / topk (the slot's token) when sorted_slots is given, else p. A block
// takes one MOE_TILE_M × 128 tile of one expert: blockIdx.y counts the experts' row tiles (tile_start, from
// moe_scatter), blocks past the last tile return, so the grid is sized by the slots alone. kdim % 8 == 0.
// Eight warps, each 64 × 32 of the tile (4 × 4 m16n8k16 products per 16 of k, fragments by ldmatrix); the operands
// stream through MOE_GEMM_STAGES shared buffers of 32 of k by cp.async, so two loads are in flight while one is used.
// Grid (ceil(n / 128), ceil(slots / MOE_TILE_M) + experts), block 256, dynamic shared MOE_GEMM_STAGE_ELEMS bf16 a stage.
extern "C" __global__ void __launch_bounds__(256) moe_grouped_gemm(const bf16_t* a, const int* sorted_slots, int topk,
        const unsigned long long* b_table, const int* offsets, const int* tile_start, int n_experts, bf16_t* c, int n, int kdim) {
    pdl_enter();
    extern __shared__ __align__(16) bf16_t gemm_shared[];
    int tile = blockIdx.y;
    if (tile >= tile_start[n_experts]) return;
    int lo = 0, hi = n_experts - 1; // the last expert whose tiles start at or before this one (an empty one never is)
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (tile_start[mid] <= tile) lo = mid; else hi = mid - 1;
    }
    int e = lo, m0 = offsets[e] + (tile - tile_start[e]) * MOE_TILE_M, m_end = offsets[e + 1], n0 = blockIdx.x * 128;
    const bf16_t* w = (const bf16_t*)b_table[e];
    // Each thread copies two 16-byte pieces of each operand per 32 of k: piece id = thread + 256·i, row id / 4,
    // column (id % 4)·8; a piece past the rows reads zeros (from the operand's start, a valid address).
    const bf16_t* a_src[2];
    const bf16_t* b_src[2];
    bool a_ok[2], b_ok[2];
    int piece[2];
#pragma unroll
    for (int i = 0; i < 2; i++) {
        int id = threadIdx.x + 256 * i, r = id >> 2, col = (id & 3) * 8, p = m0 + r;
        piece[i] = r * MOE_GEMM_LD + col;
        a_ok[i] = p < m_end;
        b_ok[i] = n0 + r < n;
        a_src[i] = a + (a_ok[i] ? (long long)(sorted_slots ? sorted_slots[p] / topk : p) * kdim : 0) + col;
        b_src[i] = w + (b_ok[i] ? (long long)(n0 + r) * kdim : 0) + col;
    }
    unsigned base = shared_address(gemm_shared);
    int k_tiles = (kdim + 31) / 32;
    auto load = [&](int stage, int k0) {
        unsigned s = base + 2u * stage * MOE_GEMM_STAGE_ELEMS;
#pragma unroll
        for (int i = 0; i < 2; i++) {
            bool in_k = k0 + (piece[i] % MOE_GEMM_LD) < kdim;
            copy_async16(s + 2u * piece[i], a_src[i] + (a_ok[i] && in_k ? k0 : 0), a_ok[i] && in_k ? 16 : 0);
            copy_async16(s + 2u * (MOE_TILE_M * MOE_GEMM_LD + piece[i]), b_src[i] + (b_ok[i] && in_k ? k0 : 0), b_ok[i] && in_k ? 16 : 0);
        }
    };
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, group = lane >> 2, quad = lane & 3;
    int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;
    float acc[4][4][4]; // fully unrolled loops only: a runtime index would put it in local memory
#pragma unroll
    for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int ni = 0; ni < 4; ni++) acc[mi][ni][0] = acc[mi][ni][1] = acc[mi][ni][2] = acc[mi][ni][3] = 0.f;
    for (int s = 0; s < MOE_GEMM_STAGES - 1; s++) {
        if (s < k_tiles) load(s, s * 32);
        copy_async_commit();
    }
    // ldmatrix rows: A's lane l reads row l % 16, k half l / 16; B's reads row (l / 16)·8 + l % 8, k half (l / 8) % 2.
    int a_lane = (lane & 15) * MOE_GEMM_LD + (lane >> 4) * 8;
    int b_lane = ((lane >> 4) * 8 + (lane & 7)) * MOE_GEMM_LD + ((lane >> 3) & 1) * 8;
    for (int kt = 0; kt < k_tiles; kt++) {
        asm volatile("cp.async.wait_group %0;\n" :: "n"(MOE_GEMM_STAGES - 2) : "memory");
        __syncthreads(); // stage kt has landed for every thread, and every warp is done with the stage loaded next
        int next = kt + MOE_GEMM_STAGES - 1;
        if (next < k_tiles) load(next % MOE_GEMM_STAGES, next * 32);
        copy_async_commit();
        unsigned as = base + 2u * (kt % MOE_GEMM_STAGES) * MOE_GEMM_STAGE_ELEMS, bs = as + 2u * MOE_TILE_M * MOE_GEMM_LD;
#pragma unroll
        for (int ks = 0; ks < 32; ks += 16) {
            unsigned af[4][4], bf[2][4];
#pragma unroll
            for (int mi = 0; mi < 4; mi++) ldmatrix_x4(af[mi], as + 2u * ((wm + mi * 16) * MOE_GEMM_LD + ks + a_lane));
#pragma unroll
            for (int nj = 0; nj < 2; nj++) ldmatrix_x4(bf[nj], bs + 2u * ((wn + nj * 16) * MOE_GEMM_LD + ks + b_lane));
#pragma unroll
            for (int mi = 0; mi < 4; mi++)
#pragma unroll
                for (int ni = 0; ni < 4; ni++) mma_bf16(acc[mi][ni], af[mi], bf[ni >> 1][(ni & 1) * 2], bf[ni >> 1][(ni & 1) * 2 + 1]);
        }
    }
    asm volatile("cp.async.wait_group 0;\n" ::: "memory");
#pragma unroll
    for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int ni = 0; ni < 4; ni++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                int p = m0 + wm + mi * 16 + group + 8 * h, cc = n0 + wn + ni * 8 + 2 * quad;
                if (p >= m_end || cc >= n) continue;
                bf16_t* o = c + (long long)p * n + cc;
                if (cc + 1 < n) *(unsigned*)o = pack_bf16(acc[mi][ni][2 * h], acc[mi][ni][2 * h + 1]);
                else st(o, acc[mi][ni][2 * h]);
            }
}
#endif
