#define TRAIN_ATTN_PER_LANE 8 // head_dim ≤ 256: lane l holds elements l, l + 32, ... of a head
// Causal grouped-query attention inside packed sequences, for training: row t (positions[t] = its index in its
// sequence) attends to rows t − positions[t] .. t. One warp per (row, head), online softmax; also keeps the
// log-sum-exp of each (row, head) for the backward. q [rows, heads·hd], k and v [rows, kv_heads·hd] (RoPE applied).
extern "C" __global__ void train_attention_forward(const float* q, const float* k, const float* v, const int* positions,
                                                   float* out, float* lse, int rows, int heads, int kv_heads, int hd, float scale) {
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (warp >= rows * heads) return; // uniform per warp
    int t = warp / heads, h = warp % heads, kvh = h / (heads / kv_heads), qw = heads * hd, kw = kv_heads * hd;
    float qv[TRAIN_ATTN_PER_LANE], acc[TRAIN_ATTN_PER_LANE];
    for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) {
        int e = lane + 32 * m;
        qv[m] = e < hd ? q[(long long)t * qw + h * hd + e] : 0.f;
        acc[m] = 0.f;
    }
    float mx = NEG_INF, l = 0.f;
    for (int j = t - positions[t]; j <= t; j++) {
        const float* kj = k + (long long)j * kw + kvh * hd;
        const float* vj = v + (long long)j * kw + kvh * hd;
        float s = 0.f;
        for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) { int e = lane + 32 * m; if (e < hd) s += qv[m] * kj[e]; }
        s = warp_sum(s) * scale;
        float next = fmaxf(mx, s), correction = expf(mx - next), p = expf(s - next);
        l = l * correction + p;
        for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) { int e = lane + 32 * m; if (e < hd) acc[m] = acc[m] * correction + p * vj[e]; }
        mx = next;
    }
    for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) { int e = lane + 32 * m; if (e < hd) out[(long long)t * qw + h * hd + e] = acc[m] / l; }
    if (lane == 0) lse[t * heads + h] = mx + logf(l);
}

// Query side of the backward (the CPU twin: AttentionBackward.Run), one warp per (row t, head): with p_j the
// recomputed softmax and dp_j = do_t·v_j, delta = Σ_j p_j·dp_j and dq_t = scale·Σ_j p_j·(dp_j − delta)·k_j
// (accumulated as Σ p·dp·k − delta·Σ p·k in one pass). Keeps delta for the key side.
extern "C" __global__ void train_attention_backward_q(const float* q, const float* k, const float* v, const float* dout, const int* positions,
                                                      const float* lse, float* dq, float* delta_out, int rows, int heads, int kv_heads,
                                                      int hd, float scale) {
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (warp >= rows * heads) return;
    int t = warp / heads, h = warp % heads, kvh = h / (heads / kv_heads), qw = heads * hd, kw = kv_heads * hd;
    float qv[TRAIN_ATTN_PER_LANE], dov[TRAIN_ATTN_PER_LANE], pdk[TRAIN_ATTN_PER_LANE], pk[TRAIN_ATTN_PER_LANE];
    for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) {
        int e = lane + 32 * m;
        qv[m] = e < hd ? q[(long long)t * qw + h * hd + e] : 0.f;
        dov[m] = e < hd ? dout[(long long)t * qw + h * hd + e] : 0.f;
        pdk[m] = 0.f;
        pk[m] = 0.f;
    }
    float row_lse = lse[t * heads + h], delta = 0.f;
    for (int j = t - positions[t]; j <= t; j++) {
        const float* kj = k + (long long)j * kw + kvh * hd;
        const float* vj = v + (long long)j * kw + kvh * hd;
        float s = 0.f, dp = 0.f;
        for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) { int e = lane + 32 * m; if (e < hd) { s += qv[m] * kj[e]; dp += dov[m] * vj[e]; } }
        s = warp_sum(s) * scale;
        dp = warp_sum(dp);
        float p = expf(s - row_lse);
        delta += p * dp;
        for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) {
            int e = lane + 32 * m;
            if (e < hd) { pdk[m] += p * dp * kj[e]; pk[m] += p * kj[e]; }
        }
    }
    for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) {
        int e = lane + 32 * m;
        if (e < hd) dq[(long long)t * qw + h * hd + e] = scale * (pdk[m] - delta * pk[m]);
    }
    if (lane == 0) delta_out[t * heads + h] = delta;
}

// Key side of the backward, one warp per (row j, KV head): over the query heads of the group and the later rows t of
// j's sequence, dv_j = Σ p_tj·do_t and dk_j = scale·Σ p_tj·(dp_tj − delta_t)·q_t.
extern "C" __global__ void train_attention_backward_kv(const float* q, const float* k, const float* v, const float* dout, const int* positions,
                                                       const float* lse, const float* delta, float* dk, float* dv, int rows, int heads,
                                                       int kv_heads, int hd, float scale) {
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (warp >= rows * kv_heads) return;
    int j = warp / kv_heads, kvh = warp % kv_heads, per_group = heads / kv_heads, qw = heads * hd, kw = kv_heads * hd;
    float kv_k[TRAIN_ATTN_PER_LANE], kv_v[TRAIN_ATTN_PER_LANE], dkv[TRAIN_ATTN_PER_LANE], dvv[TRAIN_ATTN_PER_LANE];
    for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) {
        int e = lane + 32 * m;
        kv_k[m] = e < hd ? k[(long long)j * kw + kvh * hd + e] : 0.f;
        kv_v[m] = e < hd ? v[(long long)j * kw + kvh * hd + e] : 0.f;
        dkv[m] = 0.f;
        dvv[m] = 0.f;
    }
    for (int h = kvh * per_group; h < (kvh + 1) * per_group; h++)
        for (int t = j; t < rows && positions[t] == positions[j] + (t - j); t++) {
            const float* qt = q + (long long)t * qw + h * hd;
            const float* do_t = dout + (long long)t * qw + h * hd;
            float s = 0.f, dp = 0.f;
            for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) { int e = lane + 32 * m; if (e < hd) { s += qt[e] * kv_k[m]; dp += do_t[e] * kv_v[m]; } }
            s = warp_sum(s) * scale;
            dp = warp_sum(dp);
            float p = expf(s - lse[t * heads + h]), ds = p * (dp - delta[t * heads + h]) * scale;
            for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) {
                int e = lane + 32 * m;
                if (e < hd) { dvv[m] += p * do_t[e]; dkv[m] += ds * qt[e]; }
            }
        }
    for (int m = 0; m < TRAIN_ATTN_PER_LANE; m++) {
        int e = lane + 32 * m;
        if (e < hd) { dk[(long long)j * kw + kvh * hd + e] = dkv[m]; dv[(long long)j * kw + kvh * hd + e] = dvv[m]; }
    }
}
