// RMSNorm backward over one group of `group` channels per block, grid (rows, width / group) (the CPU twin:
// NormsBackward.RmsNorm): with r = (mean(x²) + eps)^-½ and x̂ = x·r, dx += r·(dy⊙w − x̂·mean(dy⊙w⊙x̂)).
// Keeps r per (row, group) for train_norm_weight_grad.
extern "C" __global__ void train_rmsnorm_backward(const float* x, const float* w, const float* dy, float* dx, float* rstd,
                                                  int width, int group, float eps) {
    long long o = (long long)blockIdx.x * width + blockIdx.y * group;
    const float* wg = w + blockIdx.y * group;
    float ss = 0.f, dot = 0.f;
    for (int i = threadIdx.x; i < group; i += blockDim.x) {
        float v = x[o + i];
        ss += v * v;
        dot += dy[o + i] * wg[i] * v;
    }
    ss = block_sum(ss);
    dot = block_sum(dot);
    float r = 1.f / sqrtf(ss / group + eps), mean_dot = dot * r / group;
    for (int i = threadIdx.x; i < group; i += blockDim.x) dx[o + i] += r * (dy[o + i] * wg[i] - x[o + i] * r * mean_dot);
    if (threadIdx.x == 0) rstd[blockIdx.x * gridDim.y + blockIdx.y] = r;
}

// Mamba's gated norm backward, out = rmsnorm(y·silu(z))·w per group (the CPU twin: NormsBackward.GatedRmsNorm).
// Grid (rows, width / group). Writes dy, dz (row stride dz_stride: the in_proj gradient's z columns), the gated
// input g = y·silu(z) and r per (row, group) for train_norm_weight_grad.
extern "C" __global__ void train_gated_rmsnorm_backward(const float* y, const float* z, int z_stride, const float* w, const float* dout,
                                                        float* dy, float* dz, int dz_stride, float* gated, float* rstd,
                                                        int width, int group, float eps) {
    long long o = (long long)blockIdx.x * width + blockIdx.y * group;
    const float* zr = z + (long long)blockIdx.x * z_stride + blockIdx.y * group;
    float* dzr = dz + (long long)blockIdx.x * dz_stride + blockIdx.y * group;
    const float* wg = w + blockIdx.y * group;
    float ss = 0.f, dot = 0.f;
    for (int i = threadIdx.x; i < group; i += blockDim.x) {
        float g = y[o + i] * silu(zr[i]);
        ss += g * g;
        dot += dout[o + i] * wg[i] * g;
    }
    ss = block_sum(ss);
    dot = block_sum(dot);
    float r = 1.f / sqrtf(ss / group + eps), mean_dot = dot * r / group;
    for (int i = threadIdx.x; i < group; i += blockDim.x) {
        float sz = silu(zr[i]), g = y[o + i] * sz;
        float dg = r * (dout[o + i] * wg[i] - g * r * mean_dot);
        dy[o + i] = dg * sz;
        dzr[i] = dg * y[o + i] * silu_grad(zr[i]);
        gated[o + i] = g;
    }
    if (threadIdx.x == 0) rstd[blockIdx.x * gridDim.y + blockIdx.y] = r;
}

// dw[i] += Σ_r dy[r, i] · x[r, i] · rstd[r, i / group]: one thread per channel summing the rows in order, so the
// result is deterministic (no atomics).
extern "C" __global__ void train_norm_weight_grad(const float* x, const float* dy, const float* rstd, int rows, int width, int group, float* dw) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= width) return;
    int groups = width / group, g = i / group;
    float acc = 0.f;
    for (int r = 0; r < rows; r++) acc += dy[(long long)r * width + i] * (x[(long long)r * width + i] * rstd[r * groups + g]);
    dw[i] += acc;
}
