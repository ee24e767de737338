// Stored dtype codes, as Bamba.Weights.DType orders them: 0 = F32, 1 = BF16, 2 = F16.
__device__ __forceinline__ float load_stored(const void* src, int dtype, long long i) {
    if (dtype == 0) return ((const float*)src)[i];
    if (dtype == 1) return bf16_to_f(((const bf16_t*)src)[i]);
    return half_to_f(((const unsigned short*)src)[i]);
}

// Weights arrive on the device in their stored dtype and are converted here, never on the host. The kernels that
// write weights are launched the ordinary way: a GEMV reads its first weights before it waits (common.cuh), so the
// kernel before it must never be one of these.
extern "C" __global__ void convert_to_act(const void* src, int dtype, act_t* dst, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        st(dst + i, load_stored(src, dtype, i));
}

extern "C" __global__ void convert_to_f32(const void* src, int dtype, float* dst, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        dst[i] = load_stored(src, dtype, i);
}

extern "C" __global__ void act_to_f32(const act_t* src, float* dst, long long n) {
    pdl_enter();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        dst[i] = ld(src + i);
}

// A synthetic model's matrices, made where they live: uniform in [-scale, scale) from a hash of (seed, index), so the
// values do not depend on the launch shape.
extern "C" __global__ void fill_uniform_act(act_t* dst, long long n, unsigned long long seed, float scale) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        unsigned long long z = seed * 0x9E3779B97F4A7C15ull + (unsigned long long)i;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        float u = (float)(z >> 40) * (1.0f / 16777216.0f); // 24 random bits in [0, 1)
        st(dst + i, (2.f * u - 1.f) * scale);
    }
}
