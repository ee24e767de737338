// Element-wise training kernels (float32; grid-stride loops over n unless noted).

// dpre = dout · silu'(pre) (the conv's SiLU); in place is fine.
extern "C" __global__ void train_silu_backward(const float* dout, const float* pre, float* dpre, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        dpre[i] = dout[i] * silu_grad(pre[i]);
}

// hidden = silu(gate) · up.
extern "C" __global__ void train_swiglu_forward(const float* gate, const float* up, float* hidden, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        hidden[i] = silu(gate[i]) * up[i];
}

extern "C" __global__ void train_swiglu_backward(const float* dhidden, const float* gate, const float* up, float* dgate, float* dup, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        dgate[i] = dhidden[i] * up[i] * silu_grad(gate[i]);
        dup[i] = dhidden[i] * silu(gate[i]);
    }
}

// dt = clamp(softplus(raw + bias), lo, hi) backward into the in_proj gradient's dt columns; clamp passes the
// gradient only inside [lo, hi], as torch.clamp's backward does. One thread per (row, head).
extern "C" __global__ void train_dt_backward(const float* proj, int proj_stride, int dt_col, const float* dt_bias, const float* ddt,
                                             float* dproj, int rows, int heads, float lo, float hi) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * heads) return;
    int r = i / heads, h = i % heads;
    long long at = (long long)r * proj_stride + dt_col + h;
    float raw = proj[at] + dt_bias[h], soft = softplus(raw);
    dproj[at] = soft >= lo && soft <= hi ? ddt[i] * softplus_grad(raw) : 0.f;
}

// out[c] += Σ_r x[r·stride + col + c]: bias gradients, one thread per column, rows in order (deterministic).
extern "C" __global__ void train_column_sum(const float* x, int stride, int col, int rows, int width, float* out) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= width) return;
    float acc = 0.f;
    for (int r = 0; r < rows; r++) acc += x[(long long)r * stride + col + c];
    out[c] += acc;
}

// The embedding's gradient: grad[tokens[r], c] += dx[r, c]. One thread per column walks the rows in order, so
// repeated tokens add up without atomics.
extern "C" __global__ void train_embedding_backward(const int* tokens, const float* dx, int rows, int hidden, float* grad) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= hidden) return;
    for (int r = 0; r < rows; r++) grad[(long long)tokens[r] * hidden + c] += dx[(long long)r * hidden + c];
}

// The bf16 copies of the master weights that the mixed-precision GEMMs read.
extern "C" __global__ void train_f32_to_bf16(const float* src, bf16_t* dst, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        dst[i] = f_to_bf16(src[i]);
}

// A = −exp(A_log), the SSM decay rates the scan reads, from the master A_log.
extern "C" __global__ void train_neg_exp(const float* src, float* dst, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = -expf(src[i]);
}
