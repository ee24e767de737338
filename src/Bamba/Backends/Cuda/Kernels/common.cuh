// Shared by every kernel file. The module is compiled twice: ACT_BF16=0 (float32 activations, the parity mode) and
// ACT_BF16=1 (bfloat16 activations). Arithmetic is float32 in both; SSM and conv state are always float32.
// No CUDA headers are included: bf16/f16 conversions are bit operations, so NVRTC needs no include path.
typedef unsigned short bf16_t;
typedef unsigned char u8;
#if ACT_BF16
typedef bf16_t act_t;
#else
typedef float act_t;
#endif
// The sequences' SSM state: float32 unless STATE_BF16 (bf16 mode only, an opt-in: half the state traffic of a large
// decode batch, as vLLM's bf16 mamba cache; the state then loses bits at every step).
#ifndef STATE_BF16
#define STATE_BF16 0
#endif
#if STATE_BF16
typedef bf16_t state_t;
#else
typedef float state_t;
#endif
// The sizes the launchers depend on too (SSD_OUT, ATTN_WARPS, GEMV_MAX_ROWS, KV_BLOCK, ...) are not defined in any .cu
// file: Backends/Cuda/KernelConstants.cs is their one source and passes them as -D definitions.
#ifndef KV_BLOCK
#error "compile with Backends/Cuda/KernelConstants.cs's definitions"
#endif
#define FULL_MASK 0xffffffffu
#define NEG_INF __int_as_float(0xff800000)
#define POS_INF __int_as_float(0x7f800000)

// Programmatic dependent launch (sm_90+): a kernel whose body begins with pdl_enter() is launched so that it may start
// while the previous kernel in the stream is finishing (KernelModule finds these kernels in the source). It waits here
// until that kernel has completed and its writes are visible, then lets the next kernel launch early in turn; without
// such a launch both instructions do nothing. Nothing may touch global memory before it.
__device__ __forceinline__ void pdl_enter() {
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
// The other way a kernel may begin, marking that it reads only the model's weights (which no kernel writes) before
// every thread calls pdl_enter(): the GEMVs start streaming their weights while the previous kernel ends.
#define PDL_WEIGHTS_FIRST

__device__ __forceinline__ float bf16_to_f(bf16_t v) { return __uint_as_float(((unsigned)v) << 16); }

// Round to nearest even, NaN kept quiet: the same rule as torch and Bamba.Numerics.BFloat16.FromSingle.
__device__ __forceinline__ bf16_t f_to_bf16(float f) {
    unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16_t)(u >> 16);
}

__device__ __forceinline__ float half_to_f(unsigned short h) {
    unsigned sign = (h >> 15) & 1u, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    float v;
    if (exponent == 0) v = ldexpf((float)mantissa, -24);
    else if (exponent == 31) v = mantissa ? __int_as_float(0x7fc00000) : POS_INF;
    else v = ldexpf((float)(mantissa | 0x400u), (int)exponent - 25);
    return sign ? -v : v;
}

__device__ __forceinline__ float ld(const float* p) { return *p; }
__device__ __forceinline__ float ld(const bf16_t* p) { return bf16_to_f(*p); }
__device__ __forceinline__ void st(float* p, float v) { *p = v; }
__device__ __forceinline__ void st(bf16_t* p, float v) { *p = f_to_bf16(v); }
// v as the activation type would hold it (a value that the unfused path stores and reads back).
__device__ __forceinline__ float act_round(float v) {
#if ACT_BF16
    return bf16_to_f(f_to_bf16(v));
#else
    return v;
#endif
}

// Eight bf16 values from one 16-byte load (uint4), widened to float.
__device__ __forceinline__ void bf16x8_to_f(uint4 v, float* out) {
    unsigned w[4] = {v.x, v.y, v.z, v.w};
    for (int i = 0; i < 4; i++) {
        out[2 * i] = __uint_as_float(w[i] << 16);
        out[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
}

// Eight adjacent activations (16-byte aligned: one bf16 load, two float ones), widened to float, and back.
__device__ __forceinline__ void load8(const act_t* x, float* out) {
#if ACT_BF16
    bf16x8_to_f(*(const uint4*)x, out);
#else
    float4 a = ((const float4*)x)[0], b = ((const float4*)x)[1];
    out[0] = a.x; out[1] = a.y; out[2] = a.z; out[3] = a.w; out[4] = b.x; out[5] = b.y; out[6] = b.z; out[7] = b.w;
#endif
}

__device__ __forceinline__ void store8(act_t* p, const float* v) {
#if ACT_BF16
    uint4 u;
    u.x = (unsigned)f_to_bf16(v[0]) | ((unsigned)f_to_bf16(v[1]) << 16);
    u.y = (unsigned)f_to_bf16(v[2]) | ((unsigned)f_to_bf16(v[3]) << 16);
    u.z = (unsigned)f_to_bf16(v[4]) | ((unsigned)f_to_bf16(v[5]) << 16);
    u.w = (unsigned)f_to_bf16(v[6]) | ((unsigned)f_to_bf16(v[7]) << 16);
    *(uint4*)p = u;
#else
    float4 a, b;
    a.x = v[0]; a.y = v[1]; a.z = v[2]; a.w = v[3];
    b.x = v[4]; b.y = v[5]; b.z = v[6]; b.w = v[7];
    ((float4*)p)[0] = a;
    ((float4*)p)[1] = b;
#endif
}

__device__ __forceinline__ float silu(float v) { return v / (1.f + expf(-v)); }
// d silu(v)/dv = σ(v)·(1 + v·(1 − σ(v))), as Activations.SiluDerivative.
__device__ __forceinline__ float silu_grad(float v) { float s = 1.f / (1.f + expf(-v)); return s * (1.f + v * (1.f - s)); }
// torch's softplus with threshold 20.
__device__ __forceinline__ float softplus(float v) { return v > 20.f ? v : log1pf(expf(v)); }

__device__ __forceinline__ float softplus_grad(float v) { return v > 20.f ? 1.f : 1.f / (1.f + expf(-v)); }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

// Sum over the block, returned to every thread; the order is fixed, so results are deterministic.
__device__ float block_sum(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads(); // partial may still be read by a previous call
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    float total = 0.f;
    for (int i = 0; i < warps; i++) total += partial[i];
    return total;
}

__device__ float block_max(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    float m = NEG_INF;
    for (int i = 0; i < warps; i++) m = fmaxf(m, partial[i]);
    return m;
}

#if ACT_BF16
// ---- tensor-core helpers (bf16 mode): the prefill attention and the SSD chunk scan ----------------------------------

// d += a · b on the tensor cores: m16n8k16, bf16 inputs, float32 accumulators. Fragments as the PTX ISA lays them out
// for lane = 4 · group + quad: a holds rows (group, group + 8) × k (2·quad, 2·quad + 1, then + 8); b holds k
// (2·quad, 2·quad + 1, then + 8) × column group; d holds rows (group, group + 8) × columns (2·quad, 2·quad + 1).
__device__ __forceinline__ void mma_bf16(float* d, const unsigned* a, unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) { return (unsigned)f_to_bf16(lo) | ((unsigned)f_to_bf16(hi) << 16); }
__device__ __forceinline__ unsigned pack_raw(bf16_t lo, bf16_t hi) { return (unsigned)lo | ((unsigned)hi << 16); }

// Copies `rows` rows of head_dim bf16 values (row stride `stride` elements) into shared rows of ld elements, 16 bytes
// at a time; rows past `valid` are zero.
__device__ __forceinline__ void tile_load(bf16_t* dst, int ld, const bf16_t* src, long long stride, int rows, int valid, int head_dim) {
    int per_row = head_dim / 8;
    for (int i = threadIdx.x; i < rows * per_row; i += blockDim.x) {
        int r = i / per_row, c = (i % per_row) * 8;
        uint4 v;
        v.x = v.y = v.z = v.w = 0u;
        if (r < valid) v = *(const uint4*)(src + r * stride + c);
        *(uint4*)(dst + r * ld + c) = v;
    }
}
#endif
