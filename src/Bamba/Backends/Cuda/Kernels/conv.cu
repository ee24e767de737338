// Mamba's causal depthwise conv1d + SiLU over one run: out[t, c] = silu(bias[c] + Σ_j w[c, j] · in[t − (K−1) + j, c]),
// where inputs before the run come from the sequence's window (K−1 previous inputs, float32, oldest first).
// Padding rows (position < 0) come out as zeros. Grid (ceil(channels / block), steps).
extern "C" __global__ void conv1d_prefill(const act_t* in, int in_stride, const float* window, const float* w, const float* bias,
                                          act_t* out, const int* positions, int channels, int K) {
    pdl_enter();
    int t = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= channels) return;
    float acc = bias ? bias[c] : 0.f;
    for (int j = 0; j < K; j++) {
        int source = t - (K - 1) + j;
        float v = source >= 0 ? ld(in + (long long)source * in_stride + c) : window[(K - 1 + source) * channels + c];
        acc += w[c * K + j] * v;
    }
    st(out + (long long)t * channels + c, positions[t] < 0 ? 0.f : silu(acc));
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
