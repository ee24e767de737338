// Quantized weights on the device: llama.cpp's block formats (GGUF) and FP8 E4M3 with one scale per row
// (compressed-tensors), kept in their stored bytes. Decode streams them through a GEMV that decodes them in registers
// (block formats 32 values a unit, FP8 16 a load); longer products dequantize the matrix into the activation type and
// take cuBLASLt. The values are the CPU's (Bamba.Weights.Quants.*.Dequantize) bit for bit: the same products in the
// same order, with the rounding explicit (__fmul_rn, __fsub_rn), so no multiply-add is contracted where the CPU
// rounds twice.
// Format codes follow Bamba.Weights.DType: Q8_0 = 4, Q4_0 = 5, Q4_K = 6, Q5_K = 7, Q6_K = 8, F8_E4M3 = 9.

#define QF_Q8_0 4
#define QF_Q4_0 5
#define QF_Q4_K 6
#define QF_Q5_K 7
#define QF_Q6_K 8
#define QF_F8 9

// An fp16's value: the hardware conversion (exact, subnormals included).
__device__ __forceinline__ float half_bits(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

// Four float8_e4m3fn bytes of a word as floats times 2^-8, exactly, subnormals included (a weight is never NaN): each
// pair of bytes goes into the high bytes of an f16 pair, where the sign stays and exponent|mantissa move down one bit
// into f16's fields (e4m3's exponent bias is 7, f16's 15: hence 2^-8), then each half widens. The integer work is
// shared by two values and no byte goes through an int-to-float conversion: the decode GEMV's inner loop.
__device__ __forceinline__ void f8x4_scaled(unsigned word, float* v) {
    for (int pair = 0; pair < 2; pair++) {
        unsigned t = __byte_perm(word, 0u, pair ? 0x3424u : 0x1404u);
        unsigned h = ((t >> 1) & 0x3F803F80u) | (t & 0x80008000u);
        v[2 * pair] = half_bits((unsigned short)(h & 0xffffu));
        v[2 * pair + 1] = half_bits((unsigned short)(h >> 16));
    }
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

// Eight bytes from a 2-byte-aligned address (Q8_0, Q4_0 and Q6_K blocks are 34, 18 and 210 bytes long).
__device__ __forceinline__ uint2 ld8_a2(const u8* p) {
    const unsigned short* h = (const unsigned short*)p;
    uint2 v;
    v.x = (unsigned)__ldg(h) | ((unsigned)__ldg(h + 1) << 16);
    v.y = (unsigned)__ldg(h + 2) | ((unsigned)__ldg(h + 3) << 16);
    return v;
}

__device__ __forceinline__ unsigned byte_of(uint2 v, int i) { return ((i < 4 ? v.x : v.y) >> (8 * (i & 3))) & 0xffu; }

// Unit u of a row: 32 values a lane decodes at once, in four runs of eight adjacent ones starting at k = koff[0..3],
// so that a block's scales are read once for all of its values a lane takes. F8, Q8_0 and Q4_0: 32 adjacent values
// (a Q8_0/Q4_0 block). Q4_K/Q5_K: 16 bytes of a 64-value chunk, whose low nibbles are 16 values and high nibbles the
// 16 values 32 further on. Q6_K: the values l0..l0+7 of each of a half block's four 32-value groups.
template <int F>
__device__ __forceinline__ void q_unit(const u8* __restrict__ row, int u, float scale, float* w, int* koff) {
    if (F == QF_F8) {
        uint4 a = __ldg((const uint4*)(row + u * 32)), b = __ldg((const uint4*)(row + u * 32 + 16));
        unsigned words[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
        for (int i = 0; i < 8; i++) f8x4_scaled(words[i], w + 4 * i);
        for (int i = 0; i < 32; i++) w[i] = __fmul_rn(w[i] * 256.f, scale); // × 256 is exact
        for (int r = 0; r < 4; r++) koff[r] = u * 32 + 8 * r;
    } else if (F == QF_Q8_0) {
        const u8* b = row + u * 34;
        float d = half_bits(__ldg((const unsigned short*)b));
        for (int r = 0; r < 4; r++) {
            uint2 q = ld8_a2(b + 2 + 8 * r);
            for (int i = 0; i < 8; i++) w[8 * r + i] = __fmul_rn((float)(signed char)byte_of(q, i), d);
            koff[r] = u * 32 + 8 * r;
        }
    } else if (F == QF_Q4_0) {
        const u8* b = row + u * 18;
        float d = half_bits(__ldg((const unsigned short*)b));
        for (int h = 0; h < 2; h++) {
            uint2 q = ld8_a2(b + 2 + 8 * h);
            for (int i = 0; i < 8; i++) {
                w[8 * h + i] = __fmul_rn((float)((int)(byte_of(q, i) & 0xFu) - 8), d);
                w[16 + 8 * h + i] = __fmul_rn((float)((int)(byte_of(q, i) >> 4) - 8), d);
            }
        }
        for (int r = 0; r < 4; r++) koff[r] = u * 32 + 8 * r;
    } else if (F == QF_Q4_K || F == QF_Q5_K) {
        const int bytes = F == QF_Q4_K ? 144 : 176, qs = F == QF_Q4_K ? 16 : 48;
        const u8* b = row + (long long)(u >> 3) * bytes;
        int chunk = (u & 7) >> 1, l0 = (u & 1) * 16, sc, m;
        unsigned dm = __ldg((const unsigned*)b);
        float d = half_bits((unsigned short)(dm & 0xffffu)), dmin = half_bits((unsigned short)(dm >> 16));
        scale_min_k4(2 * chunk, b + 4, sc, m);
        float d1 = __fmul_rn(d, (float)sc), m1 = __fmul_rn(dmin, (float)m);
        scale_min_k4(2 * chunk + 1, b + 4, sc, m);
        float d2 = __fmul_rn(d, (float)sc), m2 = __fmul_rn(dmin, (float)m);
        uint4 q = __ldg((const uint4*)(b + qs + chunk * 32 + l0));
        unsigned qw[4] = {q.x, q.y, q.z, q.w};
        unsigned hw[4] = {0u, 0u, 0u, 0u};
        if (F == QF_Q5_K) { uint4 h = __ldg((const uint4*)(b + 16 + l0)); hw[0] = h.x; hw[1] = h.y; hw[2] = h.z; hw[3] = h.w; }
        for (int i = 0; i < 16; i++) {
            unsigned byte = (qw[i >> 2] >> (8 * (i & 3))) & 0xffu, hb = (hw[i >> 2] >> (8 * (i & 3))) & 0xffu;
            int lo = (int)(byte & 0xFu), hi = (int)(byte >> 4);
            if (F == QF_Q5_K) { lo += ((hb >> (2 * chunk)) & 1u) ? 16 : 0; hi += ((hb >> (2 * chunk + 1)) & 1u) ? 16 : 0; }
            w[i] = __fsub_rn(__fmul_rn(d1, (float)lo), m1);
            w[16 + i] = __fsub_rn(__fmul_rn(d2, (float)hi), m2);
        }
        int base = (u >> 3) * 256 + chunk * 64 + l0;
        koff[0] = base; koff[1] = base + 8; koff[2] = base + 32; koff[3] = base + 40;
    } else { // Q6_K
        const u8* b = row + (long long)(u >> 3) * 210;
        int n = (u & 7) >> 2, l0 = (u & 3) * 8;
        float d = half_bits(__ldg((const unsigned short*)(b + 208)));
        uint2 ql0 = ld8_a2(b + n * 64 + l0), ql1 = ld8_a2(b + n * 64 + 32 + l0), qh = ld8_a2(b + 128 + n * 32 + l0);
        for (int g = 0; g < 4; g++) {
            float ds = __fmul_rn(d, (float)(signed char)__ldg(b + 192 + n * 8 + (l0 >> 4) + 2 * g));
            uint2 ql = (g & 1) ? ql1 : ql0;
            for (int i = 0; i < 8; i++) {
                int low = g < 2 ? (int)(byte_of(ql, i) & 0xFu) : (int)(byte_of(ql, i) >> 4);
                int q = (low | (int)(((byte_of(qh, i) >> (2 * g)) & 3u) << 4)) - 32;
                w[8 * g + i] = __fmul_rn(ds, (float)q);
            }
            koff[g] = (u >> 3) * 256 + n * 128 + g * 32 + l0;
        }
    }
}

// The whole matrix [rows, cols] into `dst` (activation type, or float32), one 32-value unit per thread.
template <int F, typename T>
__device__ __forceinline__ void q_dequant(const u8* w, const float* scales, T* dst, int rows, int cols) {
    long long per_row = cols / 32, n = (long long)rows * per_row;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        int r = (int)(i / per_row), u = (int)(i % per_row), koff[4];
        float v[32];
        q_unit<F>(w + r * q_row_bytes<F>(cols), u, F == QF_F8 ? scales[r] : 0.f, v, koff);
        for (int run = 0; run < 4; run++)
            for (int j = 0; j < 8; j++) st(dst + (long long)r * cols + koff[run] + j, v[8 * run + j]);
    }
}

// Decode's activations for the block formats' GEMVs, as llama.cpp's CUDA GEMV takes them: each row's 32-value blocks
// as int8 with one float scale a block (max |x| / 127, round to nearest), so the weights' integer levels meet them in
// dp4a instructions (four products a step) instead of being widened one by one. One warp a block.
extern "C" __global__ void quantize_rows_q8(const act_t* x, signed char* xq, float* xd, int rows, int k) {
    pdl_enter();
    int lane = threadIdx.x & 31, blocks = k / 32;
    long long b = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
    if (b >= (long long)rows * blocks) return;
    float v = ld(x + b * 32 + lane), d = warp_max(fabsf(v)) / 127.f;
    xq[b * 32 + lane] = (signed char)(d > 0.f ? (int)rintf(v / d) : 0);
    if (lane == 0) xd[b] = d;
}

// Four int8 products summed into c (dp4a, as PTX: no header needed).
__device__ __forceinline__ int dp4a(int a, int b, int c) {
    int d;
    asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}

// Unit u of a block-format row as integer levels: 32 values in the runs of q_unit, each value ws[run]·q − wm[run]
// with q one signed byte of qw (two words a run). The same values as q_unit's, factored so that a run's dot product
// is ws·Σq·x − wm·Σx.
template <int F>
__device__ __forceinline__ void q_unit_int(const u8* __restrict__ row, int u, int* qw, float* ws, float* wm, int* koff) {
    const unsigned lo4 = 0x0F0F0F0Fu;
    if (F == QF_Q8_0) {
        const u8* b = row + u * 34;
        float d = half_bits(__ldg((const unsigned short*)b));
        for (int r = 0; r < 4; r++) {
            uint2 q = ld8_a2(b + 2 + 8 * r);
            qw[2 * r] = (int)q.x; qw[2 * r + 1] = (int)q.y;
            ws[r] = d; wm[r] = 0.f; koff[r] = u * 32 + 8 * r;
        }
    } else if (F == QF_Q4_0) {
        const u8* b = row + u * 18;
        float d = half_bits(__ldg((const unsigned short*)b));
        uint2 a = ld8_a2(b + 2), c = ld8_a2(b + 10);
        qw[0] = (int)(a.x & lo4); qw[1] = (int)(a.y & lo4); qw[2] = (int)(c.x & lo4); qw[3] = (int)(c.y & lo4);
        qw[4] = (int)((a.x >> 4) & lo4); qw[5] = (int)((a.y >> 4) & lo4); qw[6] = (int)((c.x >> 4) & lo4); qw[7] = (int)((c.y >> 4) & lo4);
        for (int r = 0; r < 4; r++) { ws[r] = d; wm[r] = __fmul_rn(8.f, d); koff[r] = u * 32 + 8 * r; }
    } else if (F == QF_Q4_K || F == QF_Q5_K) {
        const int bytes = F == QF_Q4_K ? 144 : 176, qs = F == QF_Q4_K ? 16 : 48;
        const u8* b = row + (long long)(u >> 3) * bytes;
        int chunk = (u & 7) >> 1, l0 = (u & 1) * 16, sc, m;
        unsigned dm = __ldg((const unsigned*)b);
        float d = half_bits((unsigned short)(dm & 0xffffu)), dmin = half_bits((unsigned short)(dm >> 16));
        scale_min_k4(2 * chunk, b + 4, sc, m);
        ws[0] = ws[1] = __fmul_rn(d, (float)sc); wm[0] = wm[1] = __fmul_rn(dmin, (float)m);
        scale_min_k4(2 * chunk + 1, b + 4, sc, m);
        ws[2] = ws[3] = __fmul_rn(d, (float)sc); wm[2] = wm[3] = __fmul_rn(dmin, (float)m);
        uint4 q = __ldg((const uint4*)(b + qs + chunk * 32 + l0));
        unsigned w[4] = {q.x, q.y, q.z, q.w};
        for (int i = 0; i < 4; i++) { qw[i] = (int)(w[i] & lo4); qw[4 + i] = (int)((w[i] >> 4) & lo4); }
        if (F == QF_Q5_K) {
            uint4 h = __ldg((const uint4*)(b + 16 + l0));
            unsigned hw[4] = {h.x, h.y, h.z, h.w};
            for (int i = 0; i < 4; i++) {
                qw[i] |= (int)(((hw[i] >> (2 * chunk)) & 0x01010101u) << 4);
                qw[4 + i] |= (int)(((hw[i] >> (2 * chunk + 1)) & 0x01010101u) << 4);
            }
        }
        int base = (u >> 3) * 256 + chunk * 64 + l0;
        koff[0] = base; koff[1] = base + 8; koff[2] = base + 32; koff[3] = base + 40;
    } else { // Q6_K
        const u8* b = row + (long long)(u >> 3) * 210;
        int n = (u & 7) >> 2, l0 = (u & 3) * 8;
        float d = half_bits(__ldg((const unsigned short*)(b + 208)));
        uint2 ql0 = ld8_a2(b + n * 64 + l0), ql1 = ld8_a2(b + n * 64 + 32 + l0), qh = ld8_a2(b + 128 + n * 32 + l0);
        for (int g = 0; g < 4; g++) {
            uint2 ql = (g & 1) ? ql1 : ql0;
            unsigned shift = g < 2 ? 0u : 4u;
            qw[2 * g] = (int)(((ql.x >> shift) & lo4) | (((qh.x >> (2 * g)) & 0x03030303u) << 4));
            qw[2 * g + 1] = (int)(((ql.y >> shift) & lo4) | (((qh.y >> (2 * g)) & 0x03030303u) << 4));
            ws[g] = __fmul_rn(d, (float)(signed char)__ldg(b + 192 + n * 8 + (l0 >> 4) + 2 * g));
            wm[g] = __fmul_rn(32.f, ws[g]);
            koff[g] = (u >> 3) * 256 + n * 128 + g * 32 + l0;
        }
    }
}

// One warp's share of a block-format weight row against the int8 activation rows (quantize_rows_q8): per unit, each
// run's Σq·x and Σx in dp4a steps, then ws·Σq·x − wm·Σx scaled by the activations' block scale, in float32.
template <int F>
__device__ __forceinline__ void q_gemv_warp_int(const signed char* xq, const float* xd, const u8* w, int row, int k, int rows,
                                                int piece, int split, float (*partial)[GEMV_MAX_ROWS]) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, units = k / 32;
    int share = (units + split - 1) / split, u_begin = piece * share, u_end = min(units, u_begin + share);
    float acc[GEMV_MAX_ROWS];
    for (int r = 0; r < GEMV_MAX_ROWS; r++) acc[r] = 0.f;
    if (row >= 0) {
        const u8* wr = w + row * q_row_bytes<F>(k);
        for (int u = u_begin + lane; u < u_end; u += 32) {
            int qw[8], koff[4];
            float ws[4], wm[4];
            q_unit_int<F>(wr, u, qw, ws, wm, koff);
            for (int r = 0; r < GEMV_MAX_ROWS; r++) {
                if (r >= rows) break;
                float s = 0.f;
                for (int run = 0; run < 4; run++) {
                    int2 xv = *(const int2*)(xq + (long long)r * k + koff[run]);
                    int dot = dp4a(qw[2 * run], xv.x, dp4a(qw[2 * run + 1], xv.y, 0));
                    int sum = dp4a(0x01010101, xv.x, dp4a(0x01010101, xv.y, 0));
                    s += xd[(long long)r * (k / 32) + (koff[run] >> 5)] * (ws[run] * (float)dot - wm[run] * (float)sum);
                }
                acc[r] += s;
            }
        }
    }
    for (int r = 0; r < GEMV_MAX_ROWS; r++) {
        float s = warp_sum(acc[r]);
        if (lane == 0) partial[warp][r] = s;
    }
}

// One warp's share of an FP8 weight row against the activation rows, in gemv_bf16's pattern: each lane streams 16
// weight bytes a load with four loads in flight, products in float32 on the values × 2^-8 (f8x4_scaled), the row
// scale × 256 applied to the sum. The weights' first lines are asked of L2 before the wait for the previous kernel.
// Needs k % 16 == 0.
__device__ __forceinline__ void f8_gemv_warp(const act_t* x, const u8* w, const float* scales, int row, int k, int rows,
                                             int piece, int split, float (*partial)[GEMV_MAX_ROWS]) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int share = (k / 16 + split - 1) / split * 16, k_begin = piece * share, k_end = min(k, k_begin + share);
    const u8* wr = w + (long long)row * k;
    if (row >= 0 && k_begin + lane * 128 < k_end) asm volatile("prefetch.global.L2 [%0];" :: "l"(wr + k_begin + lane * 128));
    pdl_enter();
    float acc[GEMV_MAX_ROWS];
    for (int r = 0; r < GEMV_MAX_ROWS; r++) acc[r] = 0.f;
    if (row >= 0) {
        for (int base = k_begin + lane * 16; base < k_end; base += 4 * 32 * 16) {
            uint4 wv[4];
            for (int u = 0; u < 4; u++) {
                int k0 = base + u * 32 * 16;
                if (k0 < k_end) wv[u] = __ldg((const uint4*)(wr + k0));
                else { wv[u].x = 0u; wv[u].y = 0u; wv[u].z = 0u; wv[u].w = 0u; }
            }
            for (int u = 0; u < 4; u++) {
                int k0 = base + u * 32 * 16;
                if (k0 >= k_end) break;
                float wf[16];
                f8x4_scaled(wv[u].x, wf); f8x4_scaled(wv[u].y, wf + 4); f8x4_scaled(wv[u].z, wf + 8); f8x4_scaled(wv[u].w, wf + 12);
                for (int r = 0; r < GEMV_MAX_ROWS; r++) {
                    if (r >= rows) break;
                    float xv[8], s = 0.f;
                    load8(x + (long long)r * k + k0, xv);
                    for (int i = 0; i < 8; i++) s += wf[i] * xv[i];
                    load8(x + (long long)r * k + k0 + 8, xv);
                    for (int i = 0; i < 8; i++) s += wf[8 + i] * xv[i];
                    acc[r] += s;
                }
            }
        }
        float scale = scales[row] * 256.f;
        for (int r = 0; r < GEMV_MAX_ROWS; r++) acc[r] *= scale;
    }
    for (int r = 0; r < GEMV_MAX_ROWS; r++) {
        float s = warp_sum(acc[r]);
        if (lane == 0) partial[warp][r] = s;
    }
}

// y[r, m] = Σ_k x[r, k] · W[m, k] for a few rows r; the launch shape of gemv_bf16 (split counts warps per row). The
// block formats read the activations as int8 blocks (xq, xd from quantize_rows_q8), FP8 reads them as they are (x).
template <int F>
__device__ __forceinline__ void q_gemv(const act_t* x, const signed char* xq, const float* xd, const u8* w, const float* scales,
                                       act_t* y, int rows, int m, int k, int split) {
    __shared__ float partial[GEMV_WARPS][GEMV_MAX_ROWS];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int row = blockIdx.x * (GEMV_WARPS / split) + warp / split, piece = warp % split;
    if (F == QF_F8) f8_gemv_warp(x, w, scales, row < m ? row : -1, k, rows, piece, split, partial);
    else q_gemv_warp_int<F>(xq, xd, w, row < m ? row : -1, k, rows, piece, split, partial);
    __syncthreads();
    if (row >= m || piece != 0 || lane >= rows) return;
    float s = 0.f;
    for (int j = 0; j < split; j++) s += partial[warp + j][lane];
    st(y + (long long)lane * m + row, s);
}

// The entry points, one set per format: the GEMV and the run-time dequantization wait for the previous kernel first
// (programmatic launches); dequant_f32_* writes weights at load time and is launched the ordinary way.
extern "C" __global__ void gemv_q8_0(const act_t* x, const signed char* xq, const float* xd, const u8* w, const float* scales, act_t* y,
                                   int rows, int m, int k, int split) {
    pdl_enter();
    q_gemv<QF_Q8_0>(x, xq, xd, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_q8_0(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_Q8_0>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_q8_0(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_Q8_0>(w, scales, dst, rows, cols);
}

extern "C" __global__ void gemv_q4_0(const act_t* x, const signed char* xq, const float* xd, const u8* w, const float* scales, act_t* y,
                                   int rows, int m, int k, int split) {
    pdl_enter();
    q_gemv<QF_Q4_0>(x, xq, xd, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_q4_0(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_Q4_0>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_q4_0(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_Q4_0>(w, scales, dst, rows, cols);
}

extern "C" __global__ void gemv_q4_k(const act_t* x, const signed char* xq, const float* xd, const u8* w, const float* scales, act_t* y,
                                   int rows, int m, int k, int split) {
    pdl_enter();
    q_gemv<QF_Q4_K>(x, xq, xd, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_q4_k(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_Q4_K>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_q4_k(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_Q4_K>(w, scales, dst, rows, cols);
}

extern "C" __global__ void gemv_q5_k(const act_t* x, const signed char* xq, const float* xd, const u8* w, const float* scales, act_t* y,
                                   int rows, int m, int k, int split) {
    pdl_enter();
    q_gemv<QF_Q5_K>(x, xq, xd, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_q5_k(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_Q5_K>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_q5_k(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_Q5_K>(w, scales, dst, rows, cols);
}

extern "C" __global__ void gemv_q6_k(const act_t* x, const signed char* xq, const float* xd, const u8* w, const float* scales, act_t* y,
                                   int rows, int m, int k, int split) {
    pdl_enter();
    q_gemv<QF_Q6_K>(x, xq, xd, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_q6_k(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_Q6_K>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_q6_k(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_Q6_K>(w, scales, dst, rows, cols);
}

extern "C" __global__ void gemv_f8(const act_t* x, const signed char* xq, const float* xd, const u8* w, const float* scales, act_t* y,
                                   int rows, int m, int k, int split) {
    PDL_WEIGHTS_FIRST;
    q_gemv<QF_F8>(x, xq, xd, w, scales, y, rows, m, k, split);
}
extern "C" __global__ void dequant_act_f8(const u8* w, const float* scales, act_t* dst, int rows, int cols) {
    pdl_enter();
    q_dequant<QF_F8>(w, scales, dst, rows, cols);
}
extern "C" __global__ void dequant_f32_f8(const u8* w, const float* scales, float* dst, int rows, int cols) {
    q_dequant<QF_F8>(w, scales, dst, rows, cols);
}

// A synthetic model's quantized matrix (benchmarks): random bytes, then every block's fp16 scale set to `d` (and a
// K-quant's minimum scale to `dmin`), and every FP8 byte kept finite (exponent ≤ 7, |v| < 2), so that products stay
// finite and the timing is that of real weights.
extern "C" __global__ void fill_quant_placeholder(u8* w, int format, long long bytes, unsigned long long seed, unsigned d, unsigned dmin) {
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
        unsigned h = (format == QF_Q4_K || format == QF_Q5_K) && o >= 2 ? dmin : d;
        if (scale_byte) v = (o & 1) ? (h >> 8) : (h & 0xffu);
        w[i] = (u8)v;
    }
}
