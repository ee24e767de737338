// Mamba's causal depthwise conv1d + SiLU over one run: out[t, c] = silu(bias[c] + Σ_j w[c, j] · in[t − (K−1) + j, c]),
// where inputs before the run come from the sequence's window (K−1 previous inputs, float32, oldest first).
// Padding rows (position < 0) come out as zeros. Each thread takes `per` adjacent channels (8 where channels, stride
// and pointers allow 16-byte accesses, else 1) over CONV_STEPS steps, keeping the last inputs in registers: every input
// is read once, not K times, and a prompt's pass runs at the memory's pace. Taps are aligned right on CONV_MAX_K: the
// first CONV_MAX_K − K have weight 0 and read nothing. K ≤ CONV_MAX_K.
// Grid (ceil(channels / (per · block)), ceil(steps / CONV_STEPS)).
#define CONV_MAX_K 4

__device__ __forceinline__ void conv_load(const act_t* p, int per, float* v) {
    if (per == 8) load8(p, v);
    else v[0] = ld(p);
}

extern "C" __global__ void conv1d_prefill(const act_t* in, int in_stride, const float* window, const float* w, const float* bias,
                                          act_t* out, const int* positions, int steps, int channels, int K, int per) {
    pdl_enter();
    int c0 = (blockIdx.x * blockDim.x + threadIdx.x) * per, t0 = blockIdx.y * CONV_STEPS, skip = CONV_MAX_K - K;
    if (c0 >= channels) return;
    float wk[CONV_MAX_K][8], hist[CONV_MAX_K - 1][8], b[8];
#pragma unroll
    for (int i = 0; i < 8; i++) {
        b[i] = bias && i < per ? bias[c0 + i] : 0.f;
#pragma unroll
        for (int j = 0; j < CONV_MAX_K; j++) wk[j][i] = j >= skip && i < per ? w[(c0 + i) * K + j - skip] : 0.f;
    }
#pragma unroll
    for (int j = 0; j < CONV_MAX_K - 1; j++) {
        int source = t0 - (CONV_MAX_K - 1) + j;
        if (j >= skip && source >= 0) conv_load(in + (long long)source * in_stride + c0, per, hist[j]);
#pragma unroll
        for (int i = 0; i < 8; i++) {
            if (j < skip || i >= per) hist[j][i] = 0.f;
            else if (source < 0) hist[j][i] = window[(K - 1 + source) * channels + c0 + i];
        }
    }
    for (int t = t0; t < min(t0 + CONV_STEPS, steps); t++) {
        float cur[8], y[8];
        conv_load(in + (long long)t * in_stride + c0, per, cur);
        bool pad = positions[t] < 0;
#pragma unroll
        for (int i = 0; i < 8; i++) {
            float acc = b[i];
#pragma unroll
            for (int j = 0; j < CONV_MAX_K - 1; j++) acc += wk[j][i] * hist[j][i];
            acc += wk[CONV_MAX_K - 1][i] * cur[i];
            y[i] = pad ? 0.f : silu(acc);
#pragma unroll
            for (int j = 0; j + 1 < CONV_MAX_K - 1; j++) hist[j][i] = hist[j + 1][i];
            hist[CONV_MAX_K - 2][i] = cur[i];
        }
        if (per == 8) store8(out + (long long)t * channels + c0, y);
        else st(out + (long long)t * channels + c0, y[0]);
    }
}

// After conv1d_prefill of the same run: the window becomes the run's last K−1 inputs (older window rows if the run
// is shorter). New row i comes from old row i + steps > i, so one thread per channel walking i upwards is safe.
extern "C" __global__ void conv_window_update(const act_t* in, int in_stride, float* window, int steps, int channels, int K) {
    pdl_enter();
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= channels) return;
    for (int i = 0; i < K - 1; i++) {
        int source = steps - (K - 1) + i;
        window[i * channels + c] = source >= 0 ? ld(in + (long long)source * in_stride + c) : window[(K - 1 + source) * channels + c];
    }
}

// One decode step for many sequences: row r has its own window windows[r]. Computes the output and shifts the
// window in one pass. Grid (ceil(channels / block), rows).
extern "C" __global__ void conv1d_step(const act_t* in, int in_stride, float* const* windows, const float* w, const float* bias,
                                       act_t* out, const int* positions, int channels, int K) {
    pdl_enter();
    int r = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= channels) return;
    float* win = windows[r];
    float x = ld(in + (long long)r * in_stride + c);
    float acc = bias ? bias[c] : 0.f;
    for (int j = 0; j < K - 1; j++) acc += w[c * K + j] * win[j * channels + c];
    acc += w[c * K + K - 1] * x;
    for (int j = 0; j + 1 < K - 1; j++) win[j * channels + c] = win[(j + 1) * channels + c];
    if (K > 1) win[(K - 2) * channels + c] = x;
    st(out + (long long)r * channels + c, positions[r] < 0 ? 0.f : silu(acc));
}
