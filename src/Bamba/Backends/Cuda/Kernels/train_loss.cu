// Training kernels are float32 whatever ACT_BF16 is: the trainer keeps every activation in float32 and only casts
// GEMM operands to bf16 in its mixed-precision mode.

// Next-token cross-entropy (targets −100 ignored) plus the z-loss term, forward and backward, one block per row
// (the CPU twin: CausalLmLoss.ForwardBackward). Writes ce[r] (0 when ignored) and zsq[r] = lse², and overwrites the
// logits with ce_scale·(softmax − onehot) + z_scale·2·lse·softmax. Targets are checked on the host.
extern "C" __global__ void train_cross_entropy(float* logits, const int* targets, int vocab, float ce_scale, float z_scale,
                                               float* ce, float* zsq) {
    float* row = logits + (long long)blockIdx.x * vocab;
    float m = NEG_INF;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) m = fmaxf(m, row[i]);
    m = block_max(m);
    float s = 0.f;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) s += expf(row[i] - m);
    float lse = m + logf(block_sum(s));
    int target = targets[blockIdx.x];
    bool targeted = target >= 0;
    if (threadIdx.x == 0) {
        ce[blockIdx.x] = targeted ? lse - row[target] : 0.f;
        zsq[blockIdx.x] = lse * lse;
    }
    __syncthreads(); // row[target] is read above before any thread overwrites it
    float per_softmax = (targeted ? ce_scale : 0.f) + z_scale * 2.f * lse;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        float g = expf(row[i] - lse) * per_softmax;
        if (targeted && i == target) g -= ce_scale;
        row[i] = g;
    }
}
