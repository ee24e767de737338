// Training kernels of the squared-ReLU MLP and of routed experts (float32). The experts' forward gathers, weights
// and scatters with the inference kernels (gather_rows, scatter_add_weighted, experts_finish); these are the rest.

// hidden = relu(up)² (Nemotron-H's MLP), beside up, which the backward reads. Grid-stride over n.
extern "C" __global__ void train_squared_relu_forward(const float* up, float* hidden, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float u = up[i];
        hidden[i] = u > 0.f ? u * u : 0.f;
    }
}

// dup = d relu(u)²/du · dhidden = 2·relu(u)·dhidden (the CPU twin: Training.MlpTrainer). Grid-stride over n.
extern "C" __global__ void train_squared_relu_backward(const float* dhidden, const float* up, float* dup, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float u = up[i];
        dup[i] = u > 0.f ? 2.f * u * dhidden[i] : 0.f;
    }
}

// One expert's share of out[rows[i]] += weights[i]·result[i], backward: dresult[i] = weights[i]·dout[rows[i]], and the
// routing weight's gradient dweights[slots[i]] = dout[rows[i]]·result[i] (slots: the pick's row·k + slot in the
// routing). One block per pick i; the dot product is a fixed-order block sum, so results are deterministic.
extern "C" __global__ void train_expert_output_backward(const float* dout, const float* result, int width, const int* rows,
                                                        const float* weights, const int* slots, float* dresult, float* dweights) {
    int i = blockIdx.x;
    const float* d = dout + (long long)rows[i] * width;
    const float* y = result + (long long)i * width;
    float* dr = dresult + (long long)i * width;
    float w = weights[i], dot = 0.f;
    for (int c = threadIdx.x; c < width; c += blockDim.x) {
        dot += d[c] * y[c];
        dr[c] = d[c] * w;
    }
    dot = block_sum(dot);
    if (threadIdx.x == 0) dweights[slots[i]] = dot;
}

// acc[rows[i], :] += y[i, :]: an expert's input gradient back to its tokens. A token meets an expert at most once, so
// no two threads of a launch write one element. Grid (ceil(width / block), count).
extern "C" __global__ void train_scatter_add_rows(float* acc, const float* y, int width, const int* rows) {
    int i = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < width) acc[(long long)rows[i] * width + c] += y[(long long)i * width + c];
}
