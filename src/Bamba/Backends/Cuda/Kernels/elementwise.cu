// The residual stream is float32 in both precisions (bf16 rounding at every residual add costs accuracy for nothing:
// the stream is one row per token). out[r, :] = scale · table[tokens[r], :] (scale: Granite's embedding_multiplier,
// else 1). Grid (ceil(hidden / block), rows).
extern "C" __global__ void embedding(const int* tokens, const act_t* table, float* out, int hidden, float scale) {
    pdl_enter();
    int r = blockIdx.y, i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < hidden) out[(long long)r * hidden + i] = ld(table + (long long)tokens[r] * hidden + i) * scale;
}

// The residual add: x += scale · y (a sublayer's output; scale is Granite's residual_multiplier, else 1).
extern "C" __global__ void add_residual(float* x, const act_t* y, long long n, float scale) {
    pdl_enter();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        x[i] += ld(y + i) * scale;
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

// LoRA with adapters picked per sequence: low [rows, rank] holds every adapter's x·Aᵀ; a row keeps the columns of the
// model's own adapter (group 0) and of the adapter its sequence picked, and the others become zero, so that the
// product with B that follows adds only those. Grid (ceil(rank / block), rows).
extern "C" __global__ void lora_keep_own_columns(act_t* low, int rank, const int* groups, const int* row_adapters) {
    pdl_enter();
    int r = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= rank) return;
    int group = groups[c];
    if (group != 0 && group != row_adapters[r]) st(low + (long long)r * rank + c, 0.f);
}

// out[i, :] = x[rows[i], :] on the residual stream: picks the last row of each run for the LM head.
// Grid (ceil(width / block), count).
extern "C" __global__ void gather_rows(const float* x, int width, const int* rows, float* out) {
    pdl_enter();
    int i = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < width) out[(long long)i * width + c] = x[(long long)rows[i] * width + c];
}

// Nemotron-H's MLP activation, in place: x = relu(x)². Grid-stride over n elements.
extern "C" __global__ void squared_relu(act_t* x, long long n) {
    pdl_enter();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float v = fmaxf(ld(x + i), 0.f);
        st(x + i, v * v);
    }
}

// out[i, :] = x[rows[i], :] on activation-typed rows: the rows routed to one expert, gathered for its GEMMs.
// Grid (ceil(width / block), count).
extern "C" __global__ void gather_act_rows(const act_t* x, int width, const int* rows, act_t* out) {
    pdl_enter();
    int i = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < width) out[(long long)i * width + c] = x[(long long)rows[i] * width + c];
}

// acc[rows[i], :] += weights[i] · y[i, :]: one expert's outputs added back to their tokens, weighted by the router.
// The experts run one after another on the stream and a token meets each expert at most once, so no two threads of
// a launch write one element: no atomics, and the sum's order (expert by expert) is fixed. Grid (ceil(width / block), count).
extern "C" __global__ void scatter_add_weighted(float* acc, const act_t* y, int width, const int* rows, const float* weights) {
    pdl_enter();
    int i = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < width) acc[(long long)rows[i] * width + c] += weights[i] * ld(y + (long long)i * width + c);
}

// out = acc (+ shared, the shared expert's output, when given): the routed experts' float32 sum into the activation type.
extern "C" __global__ void experts_finish(const float* acc, const act_t* shared, act_t* out, long long n) {
    pdl_enter();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        st(out + i, acc[i] + (shared ? ld(shared + i) : 0.f));
}
