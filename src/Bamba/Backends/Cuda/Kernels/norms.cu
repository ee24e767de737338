// RMSNorm as transformers: y = x · 1/sqrt(mean(x²) + eps) · w, in float32, from the float32 residual stream to
// the activation type. One block per row, up to 1024 threads. A batch-1 decode step normalises one row per kernel, so
// the time is memory latency, not bandwidth: each thread loads all of its (at most NORM_PER_THREAD) elements before
// using any, one round trip instead of one per element. Wider rows take a strided loop.
#define NORM_PER_THREAD 8

// Loads this thread's elements i = threadIdx.x + k · blockDim.x of a float row, all in flight at once.
__device__ __forceinline__ void norm_load(const float* row, int width, float* v) {
#pragma unroll
    for (int k = 0; k < NORM_PER_THREAD; k++) {
        int i = threadIdx.x + k * blockDim.x;
        v[k] = i < width ? row[i] : 0.f;
    }
}

// One row: with `dr` set, x += r · delta first (written back: the residual add fused with the norm that follows it;
// r is Granite's residual_multiplier, else 1); then y = rmsnorm(x) · w. Each thread normalises only the elements it
// loaded, so no other thread's write is read.
__device__ __forceinline__ void rmsnorm_row(float* xr, const act_t* dr, float r, const float* w, act_t* yr, int width, float eps) {
    if (width <= NORM_PER_THREAD * (int)blockDim.x) {
        float v[NORM_PER_THREAD], d[NORM_PER_THREAD], wv[NORM_PER_THREAD], ss = 0.f;
        norm_load(xr, width, v);
        norm_load(w, width, wv);
#pragma unroll
        for (int k = 0; k < NORM_PER_THREAD; k++) {
            int i = threadIdx.x + k * blockDim.x;
            d[k] = dr && i < width ? ld(dr + i) * r : 0.f;
        }
#pragma unroll
        for (int k = 0; k < NORM_PER_THREAD; k++) {
            int i = threadIdx.x + k * blockDim.x;
            v[k] += d[k];
            if (dr && i < width) xr[i] = v[k];
            ss += v[k] * v[k];
        }
        float scale = 1.f / sqrtf(block_sum(ss) / width + eps);
#pragma unroll
        for (int k = 0; k < NORM_PER_THREAD; k++) {
            int i = threadIdx.x + k * blockDim.x;
            if (i < width) st(yr + i, (v[k] * scale) * wv[k]);
        }
        return;
    }
    float ss = 0.f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        float v = xr[i];
        if (dr) { v += ld(dr + i) * r; xr[i] = v; }
        ss += v * v;
    }
    float scale = 1.f / sqrtf(block_sum(ss) / width + eps);
    for (int i = threadIdx.x; i < width; i += blockDim.x) st(yr + i, (xr[i] * scale) * w[i]);
}

extern "C" __global__ void rmsnorm(const float* x, const float* w, act_t* y, int width, float eps) {
    pdl_enter();
    // x is only read when there is no delta.
    rmsnorm_row((float*)x + (long long)blockIdx.x * width, nullptr, 1.f, w, y + (long long)blockIdx.x * width, width, eps);
}

// x += r · delta (the residual add), then y = rmsnorm(x) · w: one pass where two kernels would read x twice.
extern "C" __global__ void add_rmsnorm(float* x, const act_t* delta, const float* w, act_t* y, int width, float eps, float r) {
    pdl_enter();
    long long row = (long long)blockIdx.x * width;
    rmsnorm_row(x + row, delta + row, r, w, y + row, width, eps);
}

// Mamba-2's gated norm, in place: y = rmsnorm(y · silu(z)) · w over groups of `group` channels.
// Grid (rows, width / group). Each thread rewrites only the elements it read, so in place is safe.
extern "C" __global__ void gated_rmsnorm(act_t* y, const act_t* z, int z_stride, const float* w, int width, int group, float eps) {
    pdl_enter();
    act_t* yr = y + (long long)blockIdx.x * width + blockIdx.y * group;
    const act_t* zr = z + (long long)blockIdx.x * z_stride + blockIdx.y * group;
    const float* wg = w + blockIdx.y * group;
    if (group <= NORM_PER_THREAD * (int)blockDim.x) {
        float v[NORM_PER_THREAD], zv[NORM_PER_THREAD], wv[NORM_PER_THREAD], ss = 0.f;
        norm_load(wg, group, wv);
#pragma unroll
        for (int k = 0; k < NORM_PER_THREAD; k++) {
            int i = threadIdx.x + k * blockDim.x;
            v[k] = i < group ? ld(yr + i) : 0.f;
            zv[k] = i < group ? ld(zr + i) : 0.f;
        }
#pragma unroll
        for (int k = 0; k < NORM_PER_THREAD; k++) {
            v[k] *= silu(zv[k]);
            ss += v[k] * v[k];
        }
        float scale = 1.f / sqrtf(block_sum(ss) / group + eps);
#pragma unroll
        for (int k = 0; k < NORM_PER_THREAD; k++) {
            int i = threadIdx.x + k * blockDim.x;
            if (i < group) st(yr + i, (v[k] * scale) * wv[k]);
        }
        return;
    }
    float ss = 0.f;
    for (int i = threadIdx.x; i < group; i += blockDim.x) { float g = ld(yr + i) * silu(ld(zr + i)); ss += g * g; }
    float scale = 1.f / sqrtf(block_sum(ss) / group + eps);
    for (int i = threadIdx.x; i < group; i += blockDim.x) {
        float g = ld(yr + i) * silu(ld(zr + i));
        st(yr + i, (g * scale) * wg[i]);
    }
}
