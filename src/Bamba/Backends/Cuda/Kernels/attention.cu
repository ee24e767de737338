// Grouped-query attention over a sequence's KV cache with partial RoPE (rotate-half layout), scale head_dim^-0.5.


// Rotates the first rotary_dim channels of each of `heads` heads of every row in place, at the row's position
// (padding rows, position < 0, are left alone). Queries and keys sit side by side in the fused qkv rows, so one
// launch covers both. Grid (rows).
extern "C" __global__ void rope(act_t* x, int stride, const int* positions, const float* inv_freq, int heads, int head_dim, int rotary_dim) {
    pdl_enter();
    int r = blockIdx.x, pos = positions[r], half = rotary_dim / 2;
    if (pos < 0) return;
    act_t* row = x + (long long)r * stride;
    for (int i = threadIdx.x; i < heads * half; i += blockDim.x) {
        int h = i / half, k = i % half;
        float angle = inv_freq[k] * (float)pos;
        float cs = cosf(angle), sn = sinf(angle);
        act_t* head = row + h * head_dim;
        float a = ld(head + k), b = ld(head + k + half);
        st(head + k, a * cs - b * sn);
        st(head + k + half, b * cs + a * sn);
    }
}

// ---- the paged KV cache ----------------------------------------------------------------------------------------------
// Keys and values live in a pool of blocks of KV_BLOCK positions (CudaKvPool): per attention layer
// [blocks][kv_heads][KV_BLOCK][head_dim], so one KV head's rows of a block are consecutive (16 KB for Bamba's heads in
// bf16: what the decode kernel streams), and one padding byte per position [blocks][KV_BLOCK] shared by the layers.
// A sequence's block table lists its blocks in order: position j lies in block table[j / KV_BLOCK], slot j % KV_BLOCK.


// Index of position j's padding flag.
__device__ __forceinline__ long long kv_row(const int* table, int j) {
    return (long long)table[(unsigned)j / KV_BLOCK] * KV_BLOCK + (unsigned)j % KV_BLOCK;
}

// Element offset of position j's key (or value) row for KV head kvh.
__device__ __forceinline__ long long kv_at(const int* table, int j, int kvh, int kv_heads, int head_dim) {
    return (((long long)table[(unsigned)j / KV_BLOCK] * kv_heads + kvh) * KV_BLOCK + (unsigned)j % KV_BLOCK) * head_dim;
}

// Appends rows of keys and values (columns k_col / v_col of the qkv rows) with each row's padding flag (position < 0).
// Row r goes to position (first ? first[r] : start + r) of the sequence whose block table is tables + r · table_stride:
// a prompt run (one table, stride 0, consecutive positions) or a decode batch (a table and a position per row).
// Grid (rows).
extern "C" __global__ void kv_append(const act_t* qkv, int stride, int k_col, int v_col, act_t* keys, act_t* values, u8* key_pad,
                                     const int* tables, int table_stride, const int* positions, const int* first, int start,
                                     int kv_heads, int head_dim) {
    pdl_enter();
    int r = blockIdx.x, j = first ? first[r] : start + r;
    const act_t* row = qkv + (long long)r * stride;
    const int* table = tables + (long long)r * table_stride;
    if (threadIdx.x == 0) key_pad[kv_row(table, j)] = positions[r] < 0 ? 1 : 0;
    for (int i = threadIdx.x; i < kv_heads * head_dim; i += blockDim.x) {
        long long dst = kv_at(table, j, i / head_dim, kv_heads, head_dim) + i % head_dim;
        keys[dst] = row[k_col + i];
        values[dst] = row[v_col + i];
    }
}

// q · k for one key row, with 16-byte loads where the head allows (the dims in the same order as the scalar loop).
__device__ __forceinline__ float dot_row(const float* q, const act_t* k, int head_dim) {
    float dot = 0.f;
#if ACT_BF16
    if ((head_dim & 7) == 0) {
        for (int d = 0; d < head_dim; d += 8) {
            float kv[8];
            bf16x8_to_f(*(const uint4*)(k + d), kv);
            for (int i = 0; i < 8; i++) dot += q[d + i] * kv[i];
        }
        return dot;
    }
#else
    if ((head_dim & 3) == 0) {
        for (int d = 0; d < head_dim; d += 4) {
            float4 kv = *(const float4*)(k + d);
            dot += q[d] * kv.x; dot += q[d + 1] * kv.y; dot += q[d + 2] * kv.z; dot += q[d + 3] * kv.w;
        }
        return dot;
    }
#endif
    for (int d = 0; d < head_dim; d++) dot += q[d] * ld(k + d);
    return dot;
}

// The online softmax of one warp's query over keys [begin, end): blocks of 32 keys, one key per lane for the scores,
// then every lane accumulates its dims (d = lane + 32·i) of the values. m, l and acc carry the running max, sum and
// unnormalised output, so ranges can be chained or combined.
__device__ void attend_range(const float* qs, const act_t* keys, const act_t* values, const u8* key_pad, const int* table, int begin,
                             int end, int kvh, int kv_heads, int head_dim, float scale, float& m, float& l, float* acc) {
    int lane = threadIdx.x & 31;
    for (int j0 = begin; j0 < end; j0 += 32) {
        int j = j0 + lane;
        float score = NEG_INF;
        if (j < end) {
            if (!key_pad[kv_row(table, j)]) score = dot_row(qs, keys + kv_at(table, j, kvh, kv_heads, head_dim), head_dim) * scale;
        }
        float block_m = warp_max(score);
        if (block_m == NEG_INF) continue;
        float m_new = fmaxf(m, block_m), correction = expf(m - m_new);
        float p = score == NEG_INF ? 0.f : expf(score - m_new);
        l = l * correction + warp_sum(p);
        for (int i = 0; i < ATTN_MAX_HEAD_DIM / 32; i++) acc[i] *= correction;
        for (int jj = 0; jj < 32; jj++) {
            float pj = __shfl_sync(FULL_MASK, p, jj);
            if (pj == 0.f) continue;
            const act_t* v = values + kv_at(table, j0 + jj, kvh, kv_heads, head_dim);
            for (int i = 0; i < ATTN_MAX_HEAD_DIM / 32; i++) {
                int d = lane + 32 * i;
                if (d < head_dim) acc[i] += pj * ld(v + d);
            }
        }
        m = m_new;
    }
}

// Flash-style attention of a run of `steps` queries over the `cached` keys of a paged cache (block table `table`, the
// run's own keys last): one warp per (query, head) and an online softmax, so no score matrix is ever stored. Query t
// sees keys 0 .. cached − steps + t; keys flagged in key_pad are skipped; a query with no visible key gets zeros.
// Grid (ceil(steps · heads / ATTN_WARPS)).
extern "C" __global__ void attention(const act_t* q, int q_stride, const act_t* keys, const act_t* values, const u8* key_pad,
                                     const int* table, act_t* out, int out_stride, int steps, int cached, int heads, int kv_heads, int head_dim, float scale) {
    pdl_enter();
    __shared__ float qs[ATTN_WARPS][ATTN_MAX_HEAD_DIM];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int item = blockIdx.x * ATTN_WARPS + warp;
    if (item >= steps * heads) return;
    int t = item / heads, h = item % heads, kvh = h / (heads / kv_heads);
    for (int d = lane; d < head_dim; d += 32) qs[warp][d] = ld(q + (long long)t * q_stride + h * head_dim + d);
    __syncwarp();
    float m = NEG_INF, l = 0.f, acc[ATTN_MAX_HEAD_DIM / 32];
    for (int i = 0; i < ATTN_MAX_HEAD_DIM / 32; i++) acc[i] = 0.f;
    attend_range(qs[warp], keys, values, key_pad, table, 0, cached - steps + t + 1, kvh, kv_heads, head_dim, scale, m, l, acc);
    for (int i = 0; i < ATTN_MAX_HEAD_DIM / 32; i++) {
        int d = lane + 32 * i;
        if (d < head_dim) st(out + (long long)t * out_stride + h * head_dim + d, l > 0.f ? acc[i] / l : 0.f);
    }
}

// Decode (one query) split over the keys ("flash-decoding"): warp (h, s) runs the online softmax over keys
// [s · per_split, (s + 1) · per_split) and leaves its running max, sum and unnormalised output in `partial`
// [heads][splits][2 + head_dim]; attention_combine_batched (one sequence) merges the splits. Spreads a long cache over every SM, where one
// warp per head would use a handful. Grid (ceil(heads · splits / ATTN_WARPS)).
extern "C" __global__ void attention_split(const act_t* q, const act_t* keys, const act_t* values, const u8* key_pad, const int* table,
                                           float* partial, int cached, int heads, int kv_heads, int head_dim, float scale, int splits, int per_split) {
    pdl_enter();
    __shared__ float qs[ATTN_WARPS][ATTN_MAX_HEAD_DIM];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int item = blockIdx.x * ATTN_WARPS + warp;
    if (item >= heads * splits) return;
    int h = item / splits, s = item % splits, kvh = h / (heads / kv_heads);
    for (int d = lane; d < head_dim; d += 32) qs[warp][d] = ld(q + h * head_dim + d);
    __syncwarp();
    float m = NEG_INF, l = 0.f, acc[ATTN_MAX_HEAD_DIM / 32];
    for (int i = 0; i < ATTN_MAX_HEAD_DIM / 32; i++) acc[i] = 0.f;
    attend_range(qs[warp], keys, values, key_pad, table, s * per_split, min(cached, (s + 1) * per_split), kvh, kv_heads, head_dim,
                 scale, m, l, acc);
    float* out = partial + ((long long)h * splits + s) * (2 + head_dim);
    if (lane == 0) { out[0] = m; out[1] = l; }
    for (int i = 0; i < ATTN_MAX_HEAD_DIM / 32; i++) {
        int d = lane + 32 * i;
        if (d < head_dim) out[2 + d] = acc[i];
    }
}

// ---- batched decode: one query per sequence, each over its own paged cache -------------------------------------------

#define ATTN_DECODE_KEYS 4 // key (and value) rows of one chunk per slot: a lane's 16-byte loads in flight

// Eight consecutive cache elements: loaded raw (one 16-byte load in bf16, two in fp32) so that several loads are in
// flight at once, widened to float where used.
#if ACT_BF16
typedef uint4 raw8_t;
__device__ __forceinline__ raw8_t load8(const act_t* p) { return *(const uint4*)p; }
__device__ __forceinline__ void widen8(raw8_t r, float* v) { bf16x8_to_f(r, v); }
__device__ __forceinline__ raw8_t zero8() { raw8_t r; r.x = r.y = r.z = r.w = 0u; return r; }
#else
struct raw8_t { float4 a, b; };
__device__ __forceinline__ raw8_t load8(const act_t* p) { raw8_t r; r.a = *(const float4*)p; r.b = *(const float4*)(p + 4); return r; }
__device__ __forceinline__ void widen8(raw8_t r, float* v) {
    v[0] = r.a.x; v[1] = r.a.y; v[2] = r.a.z; v[3] = r.a.w; v[4] = r.b.x; v[5] = r.b.y; v[6] = r.b.z; v[7] = r.b.w;
}
__device__ __forceinline__ raw8_t zero8() { raw8_t r; r.a.x = r.a.y = r.a.z = r.a.w = 0.f; r.b = r.a; return r; }
#endif

// One chunk of a slot's keys for the batched decode: ATTN_DECODE_KEYS key and value rows (this lane's 8 dims of each)
// and whether each key is live (below the length, not padding).
struct decode_chunk {
    raw8_t k[ATTN_DECODE_KEYS], v[ATTN_DECODE_KEYS];
    bool live[ATTN_DECODE_KEYS];
};

// Issues the loads of keys j0 + slot + slots · u (u < ATTN_DECODE_KEYS); rows past `end` are zeros and not live.
// Every row below the length was written (padding rows too), so the row loads need not wait for the flag.
__device__ __forceinline__ void load_chunk(decode_chunk& c, const act_t* keys, const act_t* values, const u8* key_pad, const int* table,
                                           int j0, int end, int slot, int slots, int kvh, int kv_heads, int head_dim, int d0) {
#pragma unroll
    for (int u = 0; u < ATTN_DECODE_KEYS; u++) {
        int j = j0 + slot + slots * u;
        c.k[u] = c.v[u] = zero8();
        c.live[u] = false;
        if (j < end) {
            long long at = kv_at(table, j, kvh, kv_heads, head_dim) + d0;
            c.live[u] = !key_pad[kv_row(table, j)];
            if (d0 < head_dim) { c.k[u] = load8(keys + at); c.v[u] = load8(values + at); }
        }
    }
}

// The online softmax of G query heads over one chunk, in base 2 (the queries carry log2(e)): scores summed over the
// slot's lanes, then each head's running max m, sum l and unnormalised output acc (this lane's 8 dims) move on. Every
// step handles all the chunk's (key, head) pairs at once and nothing branches on the data, so their shuffles and
// exponentials overlap instead of waiting on each other.
template <int G>
__device__ __forceinline__ void attend_chunk(const decode_chunk& c, const float (&qv)[G][8], int lanes_per_row, float (&m)[G], float (&l)[G],
                                             float (&acc)[G][8]) {
    float score[ATTN_DECODE_KEYS][G], v[ATTN_DECODE_KEYS][8];
#pragma unroll
    for (int u = 0; u < ATTN_DECODE_KEYS; u++) {
        float k[8];
        widen8(c.k[u], k);
        widen8(c.v[u], v[u]);
#pragma unroll
        for (int g = 0; g < G; g++) {
            score[u][g] = 0.f;
#pragma unroll
            for (int i = 0; i < 8; i++) score[u][g] += qv[g][i] * k[i];
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        if (o >= lanes_per_row) continue; // the same for the whole warp
#pragma unroll
        for (int u = 0; u < ATTN_DECODE_KEYS; u++)
#pragma unroll
            for (int g = 0; g < G; g++) score[u][g] += __shfl_xor_sync(FULL_MASK, score[u][g], o);
    }
#pragma unroll
    for (int g = 0; g < G; g++) {
        float m_new = m[g];
#pragma unroll
        for (int u = 0; u < ATTN_DECODE_KEYS; u++) m_new = fmaxf(m_new, c.live[u] ? score[u][g] : NEG_INF);
        // Before the slot's first live key m_new is −∞: subtracting 0 instead leaves every weight 0 and nothing changes.
        float base = m_new == NEG_INF ? 0.f : m_new, correction = exp2f(m[g] - base);
        l[g] *= correction;
#pragma unroll
        for (int i = 0; i < 8; i++) acc[g][i] *= correction;
#pragma unroll
        for (int u = 0; u < ATTN_DECODE_KEYS; u++) {
            float p = c.live[u] ? exp2f(score[u][g] - base) : 0.f;
            l[g] += p;
#pragma unroll
            for (int i = 0; i < 8; i++) acc[g][i] += p * v[u][i];
        }
        m[g] = m_new;
    }
}

// Flash-decoding for a batch: warp (b, kvh, s) runs the online softmax of the `group` (≤ G) query heads that share KV
// head kvh over keys [s · per_split, min(lengths[b], (s + 1) · per_split)) of sequence b, so each key and value row is
// read once for the whole group. The warp's lanes form slots of lanes_per_row lanes (a power of two ≥ head_dim / 8):
// a slot takes every (32 / lanes_per_row)-th key, each of its lanes 8 dims of the key and value rows (16-byte loads),
// so a warp reads its KV head's consecutive rows of each block whole; a score is summed over the slot's lanes by
// shuffles. The next chunk's loads are issued before the current chunk's arithmetic, so every warp keeps loads in flight. Each slot keeps its own running max, sum and output (no shuffle per
// key block), merged across the warp at the end. Leaves (max, sum, unnormalised output) per (b, head, split) in
// `partial` [batch][heads][splits][2 + head_dim] for attention_combine_batched (the max in natural-log units).
// lengths[b] counts the cache rows including this step's.
template <int G>
__device__ void decode_batched(const act_t* q, int q_stride, const act_t* keys, const act_t* values, const u8* key_pad,
                               const int* tables, int table_stride, const int* lengths, float* partial, int heads, int kv_heads,
                               int head_dim, float scale, int splits, int per_split, int lanes_per_row) {
    const float log2e = 1.4426950408889634f, ln2 = 0.6931471805599453f;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, b = blockIdx.y;
    int item = blockIdx.x * ATTN_WARPS + warp;
    if (item >= kv_heads * splits) return;
    int kvh = item / splits, s = item % splits, group = heads / kv_heads;
    int slots = 32 / lanes_per_row, slot = lane / lanes_per_row, d0 = 8 * (lane % lanes_per_row);
    bool has_dims = d0 < head_dim;
    const int* table = tables + (long long)b * table_stride;
    float qv[G][8], m[G], l[G], acc[G][8];
#pragma unroll
    for (int g = 0; g < G; g++) {
        m[g] = NEG_INF; l[g] = 0.f;
        const act_t* qg = q + (long long)b * q_stride + (kvh * group + g) * head_dim + d0;
#pragma unroll
        for (int i = 0; i < 8; i++) {
            acc[g][i] = 0.f;
            qv[g][i] = g < group && has_dims ? ld(qg + i) * scale * log2e : 0.f;
        }
    }
    int begin = s * per_split, end = min(lengths[b], begin + per_split), step = slots * ATTN_DECODE_KEYS;
    decode_chunk current, next;
    load_chunk(current, keys, values, key_pad, table, begin, end, slot, slots, kvh, kv_heads, head_dim, d0);
    for (int j0 = begin; j0 < end; j0 += step) {
        load_chunk(next, keys, values, key_pad, table, j0 + step, end, slot, slots, kvh, kv_heads, head_dim, d0);
        attend_chunk<G>(current, qv, lanes_per_row, m, l, acc);
        current = next;
    }
    // Merge the slots: lanes lanes_per_row apart (in other slots) hold the same dims.
#pragma unroll
    for (int g = 0; g < G; g++) {
        float M = m[g];
        for (int o = 16; o >= lanes_per_row; o >>= 1) M = fmaxf(M, __shfl_xor_sync(FULL_MASK, M, o));
        float w = m[g] == NEG_INF ? 0.f : exp2f(m[g] - M), sum = l[g] * w;
        for (int o = 16; o >= lanes_per_row; o >>= 1) sum += __shfl_xor_sync(FULL_MASK, sum, o);
#pragma unroll
        for (int i = 0; i < 8; i++) {
            acc[g][i] *= w;
            for (int o = 16; o >= lanes_per_row; o >>= 1) acc[g][i] += __shfl_xor_sync(FULL_MASK, acc[g][i], o);
        }
        if (g >= group || slot != 0) continue;
        float* out = partial + (((long long)b * heads + kvh * group + g) * splits + s) * (2 + head_dim);
        if (lane == 0) { out[0] = M * ln2; out[1] = sum; }
        if (has_dims)
#pragma unroll
            for (int i = 0; i < 8; i++) out[2 + d0 + i] = acc[g][i];
    }
}

// One kernel per group bound, so the per-head registers are only as many as the heads (G = the group rounded up to a
// power of two). Grid (ceil(kv_heads · splits / ATTN_WARPS), batch), block 32 · ATTN_WARPS.
#define DECODE_BATCHED_PARAMS                                                                                           \
    const act_t *q, int q_stride, const act_t *keys, const act_t *values, const u8 *key_pad, const int *tables,          \
        int table_stride, const int *lengths, float *partial, int heads, int kv_heads, int head_dim, float scale,        \
        int splits, int per_split, int lanes_per_row
#define DECODE_BATCHED_ARGS                                                                                             \
    q, q_stride, keys, values, key_pad, tables, table_stride, lengths, partial, heads, kv_heads, head_dim, scale, splits, \
        per_split, lanes_per_row
extern "C" __global__ void __launch_bounds__(32 * ATTN_WARPS, 3) attention_decode_batched_g1(DECODE_BATCHED_PARAMS) {
    pdl_enter();
    decode_batched<1>(DECODE_BATCHED_ARGS);
}
extern "C" __global__ void __launch_bounds__(32 * ATTN_WARPS, 3) attention_decode_batched_g2(DECODE_BATCHED_PARAMS) {
    pdl_enter();
    decode_batched<2>(DECODE_BATCHED_ARGS);
}
extern "C" __global__ void __launch_bounds__(32 * ATTN_WARPS, 3) attention_decode_batched_g4(DECODE_BATCHED_PARAMS) {
    pdl_enter();
    decode_batched<4>(DECODE_BATCHED_ARGS);
}
extern "C" __global__ void __launch_bounds__(32 * ATTN_WARPS, 3) attention_decode_batched_g8(DECODE_BATCHED_PARAMS) {
    pdl_enter();
    decode_batched<8>(DECODE_BATCHED_ARGS);
}

// o = Σ_s exp(m_s − M) acc_s / Σ_s exp(m_s − M) l_s over the splits of each head, for every sequence of the batch:
// output row b at out + b · out_stride. All threads walk the splits together: the max and the sum are block
// reductions, and the weights exp(m_s − M) go to shared memory COMBINE_THREADS splits at a time, so a dim's sum over the
// splits is a run of independent loads, not a chain of dependent ones (a 4096-key cache has 64 splits).
// Grid (heads, batch), block COMBINE_THREADS; head_dim ≤ ATTN_MAX_HEAD_DIM.
extern "C" __global__ void attention_combine_batched(const float* partial, act_t* out, int out_stride, int heads, int head_dim, int splits) {
    pdl_enter();
    __shared__ float weight[COMBINE_THREADS];
    int h = blockIdx.x, b = blockIdx.y, stride = 2 + head_dim;
    const float* p = partial + ((long long)b * heads + h) * splits * stride;
    float m = NEG_INF, l = 0.f;
    for (int s = threadIdx.x; s < splits; s += COMBINE_THREADS) m = fmaxf(m, p[(long long)s * stride]);
    float M = block_max(m);
    for (int s = threadIdx.x; s < splits; s += COMBINE_THREADS) {
        float ms = p[(long long)s * stride];
        if (ms != NEG_INF) l += expf(ms - M) * p[(long long)s * stride + 1];
    }
    float L = block_sum(l), o[ATTN_MAX_HEAD_DIM / COMBINE_THREADS];
    for (int i = 0; i < ATTN_MAX_HEAD_DIM / COMBINE_THREADS; i++) o[i] = 0.f;
    for (int s0 = 0; s0 < splits; s0 += COMBINE_THREADS) {
        __syncthreads(); // the previous chunk's weights have been read
        int s = s0 + threadIdx.x;
        float ms = s < splits ? p[(long long)s * stride] : NEG_INF;
        weight[threadIdx.x] = ms == NEG_INF ? 0.f : expf(ms - M);
        __syncthreads();
        int n = min(COMBINE_THREADS, splits - s0);
        for (int i = 0; i < ATTN_MAX_HEAD_DIM / COMBINE_THREADS; i++) {
            int d = threadIdx.x + i * COMBINE_THREADS;
            if (d >= head_dim) break;
            const float* column = p + (long long)s0 * stride + 2 + d;
#pragma unroll 8
            for (int j = 0; j < n; j++) o[i] += weight[j] * column[(long long)j * stride];
        }
    }
    for (int i = 0; i < ATTN_MAX_HEAD_DIM / COMBINE_THREADS; i++) {
        int d = threadIdx.x + i * COMBINE_THREADS;
        if (d < head_dim) st(out + (long long)b * out_stride + h * head_dim + d, L > 0.f ? o[i] / L : 0.f);
    }
}

// ---- prefill: a tile of queries per block -------------------------------------------------------------------------

static_assert(KV_BLOCK % ATTN_TILE == 0, "a key tile must lie in one KV block");

// Flash-style attention for a run of `steps` queries (as `attention`), ATTN_TILE queries of one head per block, so
// every key and value row loaded into shared memory serves 32 queries instead of one. Warp w owns queries 4w..4w+3;
// for the scores its lanes are the tile's 32 keys, for the output its lanes own head_dim / 32 consecutive dims each.
// Needs head_dim % 32 == 0 and ≤ ATTN_TILE_MAX_HEAD_DIM. Grid (ceil(steps / ATTN_TILE), heads), block 256; dynamic
// shared 4 · (ATTN_TILE · (head_dim + 4) · 2) bytes.
extern "C" __global__ void attention_tiled(const act_t* q, int q_stride, const act_t* keys, const act_t* values, const u8* key_pad,
                                           const int* table, act_t* out, int out_stride, int steps, int cached, int heads, int kv_heads, int head_dim, float scale) {
    pdl_enter();
    extern __shared__ float tile_smem[];
    const int ld_row = head_dim + 4; // keeps rows 16-byte aligned and spreads lanes over the banks
    float* qs = tile_smem;                  // [ATTN_TILE][ld_row], pre-scaled
    float* kv = qs + ATTN_TILE * ld_row;    // [ATTN_TILE][ld_row]: the key tile, then the value tile
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, h = blockIdx.y, kvh = h / (heads / kv_heads);
    int t0 = blockIdx.x * ATTN_TILE, per_lane = head_dim / 32, offset = cached - steps;
    for (int i = threadIdx.x; i < ATTN_TILE * head_dim; i += blockDim.x) {
        int r = i / head_dim, d = i % head_dim, t = t0 + r;
        qs[r * ld_row + d] = t < steps ? ld(q + (long long)t * q_stride + h * head_dim + d) * scale : 0.f;
    }
    float m[4], l[4], acc[4][ATTN_TILE_MAX_HEAD_DIM / 32];
    for (int i = 0; i < 4; i++) {
        m[i] = NEG_INF; l[i] = 0.f;
        for (int e = 0; e < ATTN_TILE_MAX_HEAD_DIM / 32; e++) acc[i][e] = 0.f;
    }
    int last_query = min(steps, t0 + ATTN_TILE) - 1, key_end = offset + last_query + 1;
    for (int j0 = 0; j0 < key_end; j0 += ATTN_TILE) {
        // The tile's keys are consecutive rows of one block of the pool.
        long long tile_row = kv_row(table, j0), tile_at = kv_at(table, j0, kvh, kv_heads, head_dim);
        const act_t* key_tile = keys + tile_at;
        const act_t* value_tile = values + tile_at;
        __syncthreads();
        for (int i = threadIdx.x; i < ATTN_TILE * head_dim; i += blockDim.x) {
            int r = i / head_dim, d = i % head_dim, j = j0 + r;
            kv[r * ld_row + d] = j < key_end ? ld(key_tile + r * head_dim + d) : 0.f;
        }
        __syncthreads();
        // Scores: lane = key j0 + lane, for the warp's four queries.
        float s[4] = {0.f, 0.f, 0.f, 0.f};
        const float* kr = kv + lane * ld_row;
        for (int d = 0; d < head_dim; d += 4) {
            float4 k4 = *(const float4*)(kr + d);
            for (int i = 0; i < 4; i++) {
                float4 q4 = *(const float4*)(qs + (warp * 4 + i) * ld_row + d);
                s[i] += q4.x * k4.x + q4.y * k4.y + q4.z * k4.z + q4.w * k4.w;
            }
        }
        int j = j0 + lane;
        bool key_live = j < key_end && !key_pad[tile_row + lane];
        float p[4];
        for (int i = 0; i < 4; i++) {
            int t = t0 + warp * 4 + i;
            float score = key_live && t < steps && j <= offset + t ? s[i] : NEG_INF;
            float m_new = fmaxf(m[i], warp_max(score));
            float correction = m_new == NEG_INF ? 1.f : expf(m[i] - m_new);
            p[i] = score == NEG_INF ? 0.f : expf(score - m_new);
            l[i] = l[i] * correction + warp_sum(p[i]);
            for (int e = 0; e < ATTN_TILE_MAX_HEAD_DIM / 32; e++) acc[i][e] *= correction;
            m[i] = m_new;
        }
        __syncthreads();
        for (int i = threadIdx.x; i < ATTN_TILE * head_dim; i += blockDim.x) {
            int r = i / head_dim, d = i % head_dim, jj = j0 + r;
            kv[r * ld_row + d] = jj < key_end ? ld(value_tile + r * head_dim + d) : 0.f;
        }
        __syncthreads();
        for (int jj = 0; jj < ATTN_TILE; jj++) {
            const float* vr = kv + jj * ld_row + lane * per_lane;
            float pj[4];
            for (int i = 0; i < 4; i++) pj[i] = __shfl_sync(FULL_MASK, p[i], jj);
            for (int e = 0; e < ATTN_TILE_MAX_HEAD_DIM / 32; e++) {
                if (e >= per_lane) break;
                float v = vr[e];
                for (int i = 0; i < 4; i++) acc[i][e] += pj[i] * v;
            }
        }
    }
    for (int i = 0; i < 4; i++) {
        int t = t0 + warp * 4 + i;
        if (t >= steps) continue;
        for (int e = 0; e < per_lane; e++)
            st(out + (long long)t * out_stride + h * head_dim + lane * per_lane + e, l[i] > 0.f ? acc[i][e] / l[i] : 0.f);
    }
}

// ---- prefill on the tensor cores (bf16 mode) ------------------------------------------------------------------------
#if ACT_BF16

static_assert(KV_BLOCK % ATTN_MMA_KEYS == 0, "a key tile must lie in one KV block");

// The prefill attention of `attention_tiled` with both products on the tensor cores (flash-attention 2's scheme):
// warp w owns queries 16w..16w+15 of the block's 64; per tile of 64 keys, S = Q·Kᵀ and O += P·V are m16n8k16 products,
// the online softmax runs on S's accumulator fragments, and P goes back to the tensor cores as bf16 (as flash-attention
// rounds it). Head dim ATTN_MMA_HEAD_DIM only. Grid (ceil(steps / 64), heads), block 128, dynamic shared
// 3 · 64 · (ATTN_MMA_HEAD_DIM + 8) · 2 bytes.
extern "C" __global__ void attention_mma(const bf16_t* q, int q_stride, const bf16_t* keys, const bf16_t* values, const u8* key_pad,
                                         const int* table, bf16_t* out, int out_stride, int steps, int cached, int heads, int kv_heads, float scale) {
    pdl_enter();
    const int head_dim = ATTN_MMA_HEAD_DIM;
    extern __shared__ bf16_t mma_smem[];
    const int ld = head_dim + 8;
    bf16_t* qs = mma_smem;
    bf16_t* ks = qs + ATTN_MMA_QUERIES * ld;
    bf16_t* vs = ks + ATTN_MMA_KEYS * ld;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, group = lane >> 2, quad = lane & 3;
    int h = blockIdx.y, kvh = h / (heads / kv_heads), offset = cached - steps;
    int t0 = blockIdx.x * ATTN_MMA_QUERIES;
    tile_load(qs, ld, q + (long long)t0 * q_stride + h * head_dim, q_stride, ATTN_MMA_QUERIES, steps - t0, head_dim);
    __syncthreads();
    unsigned qa[ATTN_MMA_HEAD_DIM / 16][4];
    const bf16_t* qw = qs + (warp * 16) * ld;
#pragma unroll
    for (int kk = 0; kk < head_dim / 16; kk++) {
        int c = kk * 16 + 2 * quad;
        qa[kk][0] = *(const unsigned*)(qw + group * ld + c);
        qa[kk][1] = *(const unsigned*)(qw + (group + 8) * ld + c);
        qa[kk][2] = *(const unsigned*)(qw + group * ld + c + 8);
        qa[kk][3] = *(const unsigned*)(qw + (group + 8) * ld + c + 8);
    }
    float o[ATTN_MMA_HEAD_DIM / 8][4];
#pragma unroll
    for (int nd = 0; nd < ATTN_MMA_HEAD_DIM / 8; nd++) o[nd][0] = o[nd][1] = o[nd][2] = o[nd][3] = 0.f;
    float m[2] = {NEG_INF, NEG_INF}, l[2] = {0.f, 0.f};
    int rows[2] = {t0 + warp * 16 + group, t0 + warp * 16 + group + 8};
    int key_end = offset + min(steps, t0 + ATTN_MMA_QUERIES); // keys 0 .. key_end − 1 are visible to some query here
    for (int j0 = 0; j0 < key_end; j0 += ATTN_MMA_KEYS) {
        // The tile's keys are consecutive rows of one block of the pool.
        long long tile_row = kv_row(table, j0), tile_at = kv_at(table, j0, kvh, kv_heads, head_dim);
        __syncthreads();
        tile_load(ks, ld, keys + tile_at, head_dim, ATTN_MMA_KEYS, key_end - j0, head_dim);
        tile_load(vs, ld, values + tile_at, head_dim, ATTN_MMA_KEYS, key_end - j0, head_dim);
        __syncthreads();
        float s[ATTN_MMA_KEYS / 8][4];
#pragma unroll
        for (int nb = 0; nb < ATTN_MMA_KEYS / 8; nb++) {
            s[nb][0] = s[nb][1] = s[nb][2] = s[nb][3] = 0.f;
            const bf16_t* kr = ks + (nb * 8 + group) * ld + 2 * quad;
#pragma unroll
            for (int kk = 0; kk < head_dim / 16; kk++)
                mma_bf16(s[nb], qa[kk], *(const unsigned*)(kr + kk * 16), *(const unsigned*)(kr + kk * 16 + 8));
        }
        // Mask (causal, padding, past the run) and the online softmax; each row's 64 scores sit in the 4 lanes of a quad.
        float p_max[2] = {NEG_INF, NEG_INF};
#pragma unroll
        for (int nb = 0; nb < ATTN_MMA_KEYS / 8; nb++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int r = e >> 1, j = j0 + nb * 8 + 2 * quad + (e & 1), t = rows[r];
                bool live = t < steps && j < key_end && j <= offset + t && !key_pad[tile_row + (j - j0)];
                s[nb][e] = live ? s[nb][e] * scale : NEG_INF;
                p_max[r] = fmaxf(p_max[r], s[nb][e]);
            }
        float correction[2];
        for (int r = 0; r < 2; r++) {
            p_max[r] = fmaxf(p_max[r], __shfl_xor_sync(FULL_MASK, p_max[r], 1));
            p_max[r] = fmaxf(p_max[r], __shfl_xor_sync(FULL_MASK, p_max[r], 2));
            float m_new = fmaxf(m[r], p_max[r]);
            correction[r] = m_new == NEG_INF ? 1.f : expf(m[r] - m_new);
            m[r] = m_new;
        }
        float sum[2] = {0.f, 0.f};
#pragma unroll
        for (int nb = 0; nb < ATTN_MMA_KEYS / 8; nb++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int r = e >> 1;
                float p = s[nb][e] == NEG_INF ? 0.f : expf(s[nb][e] - m[r]);
                s[nb][e] = p;
                sum[r] += p;
            }
        for (int r = 0; r < 2; r++) {
            sum[r] += __shfl_xor_sync(FULL_MASK, sum[r], 1);
            sum[r] += __shfl_xor_sync(FULL_MASK, sum[r], 2);
            l[r] = l[r] * correction[r] + sum[r];
        }
#pragma unroll
        for (int nd = 0; nd < head_dim / 8; nd++) {
            o[nd][0] *= correction[0]; o[nd][1] *= correction[0];
            o[nd][2] *= correction[1]; o[nd][3] *= correction[1];
        }
        // O += P · V: S's fragments of key blocks 2kk and 2kk + 1 are exactly P's A fragment for keys 16kk .. 16kk + 15.
#pragma unroll
        for (int kk = 0; kk < ATTN_MMA_KEYS / 16; kk++) {
            unsigned pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                              pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
            const bf16_t* v0 = vs + (kk * 16 + 2 * quad) * ld + group;
#pragma unroll
            for (int nd = 0; nd < head_dim / 8; nd++) {
                const bf16_t* v = v0 + nd * 8;
                mma_bf16(o[nd], pa, pack_raw(v[0], v[ld]), pack_raw(v[8 * ld], v[9 * ld]));
            }
        }
    }
    for (int r = 0; r < 2; r++) {
        int t = rows[r];
        if (t >= steps) continue;
        float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;
        bf16_t* dst = out + (long long)t * out_stride + h * head_dim + 2 * quad;
#pragma unroll
        for (int nd = 0; nd < head_dim / 8; nd++)
            *(unsigned*)(dst + nd * 8) = pack_bf16(o[nd][2 * r] * inv, o[nd][2 * r + 1] * inv);
    }
}
#endif
