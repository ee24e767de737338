// Quantized weights on the device: llama.cpp's block formats (GGUF) and FP8 E4M3 with one scale per row
// (compressed-tensors), kept in their stored bytes. Decode streams them through a GEMV that decodes eight values at a
// time in registers; longer products dequantize the matrix into the activation type and take cuBLASLt. The values
// are the CPU's (Bamba.Weights.Quants.*.Dequantize) bit for bit: the same products in the same order, with the
// rounding explicit (__fmul_rn, __fsub_rn), so no multiply-add is contracted where the CPU rounds twice.
// Format codes follow Bamba.Weights.DType: Q8_0 = 4, Q4_0 = 5, Q4_K = 6, Q5_K = 7, Q6_K = 8, F8_E4M3 = 9.

#define QF_Q8_0 4
#define QF_Q4_0 5
#define QF_Q4_K 6
#define QF_Q5_K 7
#define QF_Q6_K 8
#define QF_F8 9

__device__ __forceinline__ float ld_half(const u8* p) { return half_to_f((unsigned short)(p[0] | (p[1] << 8))); }

// float8_e4m3fn's value (never NaN in a weight): exponent and mantissa moved into a float32's bit positions and
// rebiased by 2^120 for normals; the subnormals are m·2^-9.
__device__ __forceinline__ float f8_to_f(unsigned b) {
    unsigned e = (b >> 3) & 15u, m = b & 7u;
    float v = e ? __uint_as_float(((b & 0x7fu) << 20) + (120u << 23)) : __fmul_rn((float)m, 0.001953125f);
    return (b & 0x80u) ? -v : v;
}

// Q4_K/Q5_K's 6-bit scale and minimum of sub-block j (ggml's get_scale_min_k4).
__device__ __forceinline__ void scale_min_k4(int j, const u8* q, int& sc, int& m) {
    if (j < 4) { sc = q[j] & 63; m = q[j + 4] & 63; }
    else { sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4); m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4); }
}

// Bytes per row of `cols` values in format F.
template <int F> __device__ __forceinline__ long long q_row_bytes(int cols) {
    if (F == QF_F8) return cols;
    if (F == QF_Q8_0) return (long long)(cols / 32) * 34;
    if (F == QF_Q4_0) return (long long)(cols / 32) * 18;
    if (F == QF_Q4_K) return (long long)(cols / 256) * 144;
    if (F == QF_Q5_K) return (long long)(cols / 256) * 176;
    return (long long)(cols / 256) * 210;
}

// Values k0 .. k0+7 of a row (k0 a multiple of 8: eight values never straddle a block or a scale group). `scale` is
// the row's FP8 scale (unused by the block formats).
template <int F> __device__ __forceinline__ void q_decode8(const u8* __restrict__ row, int k0, float scale, float* out) {
    if (F == QF_F8) {
        uint2 v = __ldg((const uint2*)(row + k0));
        for (int i = 0; i < 4; i++) {
            out[i] = __fmul_rn(f8_to_f((v.x >> (8 * i)) & 0xffu), scale);
            out[4 + i] = __fmul_rn(f8_to_f((v.y >> (8 * i)) & 0xffu), scale);
        }
    } else if (F == QF_Q8_0) {
        const u8* b = row + (k0 >> 5) * 34;
        float d = ld_half(b);
        const signed char* q = (const signed char*)(b + 2 + (k0 & 31));
        for (int i = 0; i < 8; i++) out[i] = __fmul_rn((float)q[i], d);
    } else if (F == QF_Q4_0) {
        const u8* b = row + (k0 >> 5) * 18;
        float d = ld_half(b);
        int j = k0 & 31;
        const u8* q = b + 2 + (j & 15);
        for (int i = 0; i < 8; i++) out[i] = __fmul_rn((float)((j < 16 ? q[i] & 0xF : q[i] >> 4) - 8), d);
    } else if (F == QF_Q4_K || F == QF_Q5_K) {
        const int bytes = F == QF_Q4_K ? 144 : 176, qs = F == QF_Q4_K ? 16 : 48;
        const u8* b = row + (long long)(k0 >> 8) * bytes;
        int j = k0 & 255, sub = j >> 5, sc, m;
        scale_min_k4(sub, b + 4, sc, m);
        float d1 = __fmul_rn(ld_half(b), (float)sc), m1 = __fmul_rn(ld_half(b + 2), (float)m);
        uint2 v = __ldg((const uint2*)(b + qs + (j >> 6) * 32 + (j & 31)));
        unsigned shift = (j & 32) ? 4u : 0u;
        for (int i = 0; i < 8; i++) {
            int q = (int)(((i < 4 ? v.x >> (8 * i) : v.y >> (8 * (i - 4))) >> shift) & 0xFu);
            if (F == QF_Q5_K) q += ((b[16 + (j & 31) + i] >> sub) & 1) ? 16 : 0;
            out[i] = __fsub_rn(__fmul_rn(d1, (float)q), m1);
        }
    } else { // Q6_K
        const u8* b = row + (long long)(k0 >> 8) * 210;
        int j = k0 & 255, n = j >> 7, r = j & 127, g = r >> 5, l = r & 31;
        const u8* ql = b + n * 64 + l + (g & 1) * 32;
        const u8* qh = b + 128 + n * 32 + l;
        float ds = __fmul_rn(ld_half(b + 208), (float)(signed char)b[192 + n * 8 + (l >> 4) + 2 * g]);
        for (int i = 0; i < 8; i++) {
            int low = g < 2 ? ql[i] & 0xF : ql[i] >> 4;
            int q = (low | (((qh[i] >> (2 * g)) & 3) << 4)) - 32;
            out[i] = __fmul_rn(ds, (float)q);
        }
    }
}

// The whole matrix [rows, cols] into `dst` (activation type, or float32), eight values per thread.
template <int F, typename T>
__device__ __forceinline__ void q_dequant(const u8* w, const float* scales, T* dst, int rows, int cols) {
    long long per_row = cols / 8, n = (long long)rows * per_row;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        int r = (int)(i / per_row), k0 = (int)(i % per_row) * 8;
        float v[8];
        q_decode8<F>(w + r * q_row_bytes<F>(cols), k0, F == QF_F8 ? scales[r] : 0.f, v);
        for (int j = 0; j < 8; j++) st(dst + (long long)r * cols + k0 + j, v[j]);
    }
}

// One warp's share of weight row `row` (piece `piece` of `split` along k) against the activation rows, as gemv_warp
// in gemv.cu, with the weights decoded from their blocks.
template <int F>
__device__ __forceinline__ void q_gemv_warp(const act_t* x, const u8* w, const float* scales, int row, int k, int rows,
                                            int piece, int split, float (*partial)[GEMV_MAX_ROWS]) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int share = (k / 8 + split - 1) / split * 8, k_begin = piece * share, k_end = min(k, k_begin + share);
    float acc[GEMV_MAX_ROWS];
    for (int r = 0; r < GEMV_MAX_ROWS; r++) acc[r] = 0.f;
    if (row >= 0) {
        const u8* wr = w + row * q_row_bytes<F>(k);
        float scale = F == QF_F8 ? scales[row] : 0.f;
#pragma unroll 4
        for (int k0 = k_begin + lane * 8; k0 < k_end; k0 += 32 * 8) {
            float wf[8];
            q_decode8<F>(wr, k0, scale, wf);
            for (int r = 0; r < GEMV_MAX_ROWS; r++) {
                if (r >= rows) break;
                float xv[8];
                load8(x + (long long)r * k + k0, xv);
                float s = 0.f;
                for (int i = 0; i < 8; i++) s += wf[i] * xv[i];
                acc[r] += s;
            }
        }
    }
    for (int r = 0; r < GEMV_MAX_ROWS; r++) {
        float s = warp_sum(acc[r]);
        if (lane == 0) partial[warp][r] = s;
    }
}

// y[r, m] = Σ_k x[r, k] · W[m, k] for a few rows r; the launch shape of gemv_bf16.
template <int F>
__device__ __forceinline__ void q_gemv(const act_t* x, const u8* w, const float* scales, act_t* y, int rows, int m, int k, int split) {
    __shared__ float partial[GEMV_WARPS][GEMV_MAX_ROWS];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int row = blockIdx.x * (GEMV_WARPS / split) + warp / split, piece = warp % split;
    q_gemv_warp<F>(x, w, scales, row < m ? row : -1, k, rows, piece, split, partial);
    __syncthreads();
    if (row >= m || piece != 0 || lane >= rows) return;
    float s = 0.f;
    for (int j = 0; j < split; j++) s += partial[warp + j][lane];
    st(y + (long long)lane * m + row, s);
}

// The entry points, one set per format: the GEMV and the run-time dequantization wait for the previous kernel first
// (programmatic launches); dequant_f32_* writes weights at load time and is launched the ordinary way.
extern "C" __global__ void gemv_q8_0(const act_t* x, const u8* w, const float* scales, act_t* y, int rows, int m, int k, int split) {
    pdl_enter();
    q_gemv<QF_Q8_0>(x, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_q8_0(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_Q8_0>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_q8_0(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_Q8_0>(w, scales, dst, rows, cols);
}

extern "C" __global__ void gemv_q4_0(const act_t* x, const u8* w, const float* scales, act_t* y, int rows, int m, int k, int split) {
    pdl_enter();
    q_gemv<QF_Q4_0>(x, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_q4_0(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_Q4_0>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_q4_0(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_Q4_0>(w, scales, dst, rows, cols);
}

extern "C" __global__ void gemv_q4_k(const act_t* x, const u8* w, const float* scales, act_t* y, int rows, int m, int k, int split) {
    pdl_enter();
    q_gemv<QF_Q4_K>(x, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_q4_k(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_Q4_K>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_q4_k(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_Q4_K>(w, scales, dst, rows, cols);
}

extern "C" __global__ void gemv_q5_k(const act_t* x, const u8* w, const float* scales, act_t* y, int rows, int m, int k, int split) {
    pdl_enter();
    q_gemv<QF_Q5_K>(x, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_q5_k(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_Q5_K>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_q5_k(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_Q5_K>(w, scales, dst, rows, cols);
}

extern "C" __global__ void gemv_q6_k(const act_t* x, const u8* w, const float* scales, act_t* y, int rows, int m, int k, int split) {
    pdl_enter();
    q_gemv<QF_Q6_K>(x, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_q6_k(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_Q6_K>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_q6_k(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_Q6_K>(w, scales, dst, rows, cols);
}

extern "C" __global__ void gemv_f8(const act_t* x, const u8* w, const float* scales, act_t* y, int rows, int m, int k, int split) {
    pdl_enter();
    q_gemv<QF_F8>(x, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_f8(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_F8>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_f8(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_F8>(w, scales, dst, rows, cols);
}

// A synthetic model's quantized matrix (benchmarks): random bytes, then every block's fp16 scales set to `d` and
// every FP8 byte kept finite (exponent ≤ 7, |v| < 2), so that products stay finite and the timing is that of real
// weights.
extern "C" __global__ void fill_quant_placeholder(u8* w, int format, long long bytes, unsigned long long seed, unsigned d) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < bytes; i += (long long)gridDim.x * blockDim.x) {
        unsigned long long z = seed * 0x9E3779B97F4A7C15ull + (unsigned long long)i;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        unsigned v = (unsigned)(z >> 56);
        long long o;
        bool scale_byte = false;
        if (format == QF_Q8_0) { o = i % 34; scale_byte = o < 2; }
        else if (format == QF_Q4_0) { o = i % 18; scale_byte = o < 2; }
        else if (format == QF_Q4_K) { o = i % 144; scale_byte = o < 4; }
        else if (format == QF_Q5_K) { o = i % 176; scale_byte = o < 4; }
        else if (format == QF_Q6_K) { o = i % 210; scale_byte = o >= 208; }
        else { o = 0; v &= 0xBFu; }
        if (scale_byte) v = (o & 1) ? (d >> 8) : (d & 0xffu);
        w[i] = (u8)v;
    }
}
