// Grouped-query attention over a sequence's KV cache with partial RoPE (rotate-half layout), scale head_dim^-0.5.

#define ATTN_MAX_HEAD_DIM 256
#define ATTN_WARPS 4

// Rotates the first rotary_dim channels of each of `heads` heads of every row in place, at the row's position
// (padding rows, position < 0, are left alone). Queries and keys sit side by side in the fused qkv rows, so one
// launch covers both. Grid (rows).
extern "C" __global__ void rope(act_t* x, int stride, const int* positions, const float* inv_freq, int heads, int head_dim, int rotary_dim) {
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

// Appends a run's keys and values (columns k_col / v_col of the qkv rows) to the cache at row `start`.
// Grid (steps).
extern "C" __global__ void kv_append(const act_t* qkv, int stride, int k_col, int v_col, act_t* keys, act_t* values, int start, int width) {
    int t = blockIdx.x;
    const act_t* row = qkv + (long long)t * stride;
    long long dst = (long long)(start + t) * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) { keys[dst + i] = row[k_col + i]; values[dst + i] = row[v_col + i]; }
}

// Flash-style attention of a run of `steps` queries over `cached` keys (the run's own keys last): one warp per
// (query, head), online softmax over blocks of 32 keys (one key per lane), so no score matrix is ever stored.
// Query t sees keys 0 .. cached − steps + t; keys flagged in key_pad are skipped; a query with no visible key gets
// zeros. Serves prefill (steps = run length) and decode (steps = 1). Grid (ceil(steps · heads / ATTN_WARPS)).
extern "C" __global__ void attention(const act_t* q, int q_stride, const act_t* keys, const act_t* values, const u8* key_pad,
                                     act_t* out, int out_stride, int steps, int cached, int heads, int kv_heads, int head_dim, float scale) {
    __shared__ float qs[ATTN_WARPS][ATTN_MAX_HEAD_DIM];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int item = blockIdx.x * ATTN_WARPS + warp;
    if (item >= steps * heads) return;
    int t = item / heads, h = item % heads, kvh = h / (heads / kv_heads), width = kv_heads * head_dim;
    for (int d = lane; d < head_dim; d += 32) qs[warp][d] = ld(q + (long long)t * q_stride + h * head_dim + d);
    __syncwarp();
    int visible = cached - steps + t + 1;
    float m = NEG_INF, l = 0.f, acc[ATTN_MAX_HEAD_DIM / 32];
    for (int i = 0; i < ATTN_MAX_HEAD_DIM / 32; i++) acc[i] = 0.f;
    for (int j0 = 0; j0 < visible; j0 += 32) {
        int j = j0 + lane;
        float score = NEG_INF;
        if (j < visible && !key_pad[j]) {
            const act_t* k = keys + (long long)j * width + kvh * head_dim;
            float dot = 0.f;
            for (int d = 0; d < head_dim; d++) dot += qs[warp][d] * ld(k + d);
            score = dot * scale;
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
            const act_t* v = values + (long long)(j0 + jj) * width + kvh * head_dim;
            for (int i = 0; i < ATTN_MAX_HEAD_DIM / 32; i++) {
                int d = lane + 32 * i;
                if (d < head_dim) acc[i] += pj * ld(v + d);
            }
        }
        m = m_new;
    }
    for (int i = 0; i < ATTN_MAX_HEAD_DIM / 32; i++) {
        int d = lane + 32 * i;
        if (d < head_dim) st(out + (long long)t * out_stride + h * head_dim + d, l > 0.f ? acc[i] / l : 0.f);
    }
}
