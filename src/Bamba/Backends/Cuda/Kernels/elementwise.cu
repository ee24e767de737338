// The residual stream is float32 in both precisions (bf16 rounding at every residual add costs accuracy for nothing:
// the stream is one row per token). out[r, :] = table[tokens[r], :]. Grid (ceil(hidden / block), rows).
extern "C" __global__ void embedding(const int* tokens, const act_t* table, float* out, int hidden) {
    pdl_enter();
    int r = blockIdx.y, i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < hidden) out[(long long)r * hidden + i] = ld(table + (long long)tokens[r] * hidden + i);
}

// The residual add: x += y (a mixer's or the MLP's output).
extern "C" __global__ void add_residual(float* x, const act_t* y, long long n) {
    pdl_enter();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        x[i] += ld(y + i);
}

// y[r, c] += bias[c] (optional projection biases). Grid (ceil(width / block), rows).
extern "C" __global__ void add_bias(act_t* y, const float* bias, int width) {
    pdl_enter();
    int r = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < width) { act_t* p = y + (long long)r * width + c; st(p, ld(p) + bias[c]); }
}

// SwiGLU over the fused gate|up projection [rows, 2·inter]: out = silu(gate) · up. Each thread takes `per` adjacent
// elements (8 when inter % 8 == 0: 16-byte bf16 accesses, a prompt's pass runs at the memory's pace, else 1).
// Grid (ceil(inter / (per · block)), rows).
extern "C" __global__ void swiglu(const act_t* gate_up, act_t* out, int inter, int per) {
    pdl_enter();
    int r = blockIdx.y, i0 = (blockIdx.x * blockDim.x + threadIdx.x) * per;
    if (i0 >= inter) return;
    const act_t* row = gate_up + (long long)r * 2 * inter;
    act_t* o = out + (long long)r * inter;
    if (per == 8) {
        act_t g[8], u[8], y[8];
        *(uint4*)g = *(const uint4*)(row + i0);
        *(uint4*)u = *(const uint4*)(row + inter + i0);
#if !ACT_BF16
        *(uint4*)(g + 4) = *(const uint4*)(row + i0 + 4);
        *(uint4*)(u + 4) = *(const uint4*)(row + inter + i0 + 4);
#endif
        for (int k = 0; k < 8; k++) st(y + k, silu(ld(g + k)) * ld(u + k));
        *(uint4*)(o + i0) = *(const uint4*)y;
#if !ACT_BF16
        *(uint4*)(o + i0 + 4) = *(const uint4*)(y + 4);
#endif
        return;
    }
    st(o + i0, silu(ld(row + i0)) * ld(row + inter + i0));
}

// Zeroes the first `width` columns of padding rows (position < 0), as transformers masks Mamba's input.
extern "C" __global__ void zero_padding_rows(act_t* x, int stride, int width, const int* positions) {
    pdl_enter();
    int r = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < width && positions[r] < 0) st(x + (long long)r * stride + c, 0.f);
}

// out[i, :] = x[rows[i], :] on the residual stream: picks the last row of each run for the LM head.
// Grid (ceil(width / block), count).
extern "C" __global__ void gather_rows(const float* x, int width, const int* rows, float* out) {
    pdl_enter();
    int i = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < width) out[(long long)i * width + c] = x[(long long)rows[i] * width + c];
}
