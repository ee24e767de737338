// Mamba's causal depthwise conv over packed sequences, for training (the CPU twin: CausalConv.Forward per sequence
// from a zero window, then SiLU). positions[t] is row t's index in its sequence, so the taps that would reach into
// the previous sequence (position − (K−1) + j < 0) read zeros. Keeps the pre-activation for the backward.
// Grid (ceil(channels / block), rows).
extern "C" __global__ void train_conv_forward(const float* in, int in_stride, const float* w, const float* bias, const int* positions,
                                              float* pre, float* out, int channels, int K) {
    int t = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= channels) return;
    float acc = bias ? bias[c] : 0.f;
    for (int j = 0; j < K; j++) {
        int back = K - 1 - j;
        if (positions[t] >= back) acc += w[c * K + j] * in[(long long)(t - back) * in_stride + c];
    }
    pre[(long long)t * channels + c] = acc;
    out[(long long)t * channels + c] = silu(acc);
}

// Input gradient (the CPU twin: CausalConvBackward.Run): din[s, c] = Σ_j w[c, j] · dpre[s + (K−1) − j, c] over the
// outputs of the same sequence (row u is in s's sequence iff positions[u] = positions[s] + (u − s)). Written into
// din's columns with row stride din_stride. Grid (ceil(channels / block), rows).
extern "C" __global__ void train_conv_backward_input(const float* dpre, const float* w, const int* positions, float* din, int din_stride,
                                                     int rows, int channels, int K) {
    int s = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= channels) return;
    float acc = 0.f;
    for (int j = 0; j < K; j++) {
        int u = s + (K - 1 - j);
        if (u < rows && positions[u] == positions[s] + (K - 1 - j)) acc += w[c * K + j] * dpre[(long long)u * channels + c];
    }
    din[(long long)s * din_stride + c] = acc;
}

#define TRAIN_CONV_MAX_K 8
// dw[c, j] += Σ_t dpre[t, c] · in[t − (K−1) + j, c] (same sequence only) and dbias[c] += Σ_t dpre[t, c]:
// one thread per channel, rows in order (deterministic). K ≤ TRAIN_CONV_MAX_K (checked on the host).
extern "C" __global__ void train_conv_weight_grad(const float* in, int in_stride, const float* dpre, const int* positions,
                                                  int rows, int channels, int K, float* dw, float* dbias) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= channels) return;
    float acc[TRAIN_CONV_MAX_K];
    for (int j = 0; j < K; j++) acc[j] = 0.f;
    float bias_acc = 0.f;
    for (int t = 0; t < rows; t++) {
        float g = dpre[(long long)t * channels + c];
        bias_acc += g;
        for (int j = 0; j < K; j++) {
            int back = K - 1 - j;
            if (positions[t] >= back) acc[j] += g * in[(long long)(t - back) * in_stride + c];
        }
    }
    for (int j = 0; j < K; j++) dw[c * K + j] += acc[j];
    if (dbias) dbias[c] += bias_acc;
}
