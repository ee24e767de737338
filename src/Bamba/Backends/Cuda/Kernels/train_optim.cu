// AdamW as torch.optim.AdamW (the CPU twin: Training.AdamW.Update): p ← p·decay (decay = 1 − lr·wd, or 1), then
// m ← b1·m + (1−b1)·g, v ← b2·v + (1−b2)·g², p ← p − lr·(m/c1)/(√(v/c2) + eps), c1, c2 the bias corrections.
extern "C" __global__ void train_adamw(float* w, const float* g, float* m, float* v, long long n, float lr, float decay,
                                       float b1, float b2, float eps, float c1, float c2) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float p = w[i] * decay, gi = g[i];
        float mi = b1 * m[i] + (1.f - b1) * gi;
        float vi = b2 * v[i] + (1.f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = p - lr * (mi / c1) / (sqrtf(vi / c2) + eps);
    }
}

// Partial sums of squares, one per block (the host adds them in double for the global gradient norm).
extern "C" __global__ void train_sum_squares(const float* x, long long n, float* partial) {
    float acc = 0.f;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) acc += x[i] * x[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

extern "C" __global__ void train_scale(float* x, long long n, float s) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) x[i] *= s;
}
