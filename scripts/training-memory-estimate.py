#!/usr/bin/env python3
"""GPU memory of one LoRA training step of the bamba-9b shape, added up from the buffers the CUDA trainer allocates.

    python3 scripts/training-memory-estimate.py [--rows 4096] [--sequences 8] [--rank 16] [--scan-states chunked|all]

An estimate from the code, not a measurement: it follows, by hand, what src/Bamba/Backends/Cuda/Training allocates
(CudaParameters for the frozen bf16 base, CudaLora's adapters with AdamW moments, and every named work buffer of
TrainContext / TrainGemm with its [rows, width] float32 shape) for the run that
bench/results/2026-12-03-h200-lora-train.md measured (bamba bench --device cuda --scenario lora-train --preset
bamba-9b: rank 16 on every linear layer, one packed row of 4096 tokens in sequences of 512, bf16 mode), keeping
every layer's tape or recomputing it (--recompute-activations). --scan-states all sizes the scan backward's state
buffer as the code measured there had it (every step's state); chunked, as it is now (CudaTrainOps.SsdStateInterval
steps per kept state, one chunk's states recomputed per sequence). Not counted: the CUDA context, cuBLASLt's 32 MiB
workspace, the inference ops' small scratch and allocator rounding; the measured peak includes them.
Standard library only; not run in CI.
"""
import argparse

# SyntheticModel.Bamba9B
VOCAB, HIDDEN, INTER, LAYERS = 128256, 4096, 14336, 32
HEADS, KV_HEADS, HEAD_DIM, ATTENTION = 32, 8, 128, {9, 18, 27}
M_HEADS, M_HEAD_DIM, D_STATE, GROUPS = 128, 64, 128, 1
M_INNER = M_HEADS * M_HEAD_DIM
CONV_DIM = M_INNER + 2 * GROUPS * D_STATE
IN_PROJ = M_INNER + CONV_DIM + M_HEADS
D_CONV = 4


def parameters():
    """(matrix elements, vector elements, embedding elements) of the base."""
    mamba = IN_PROJ * HIDDEN + HIDDEN * M_INNER
    mamba_vectors = CONV_DIM * D_CONV + CONV_DIM + 3 * M_HEADS + M_INNER
    attention = 2 * HEADS * HEAD_DIM * HIDDEN + 2 * KV_HEADS * HEAD_DIM * HIDDEN
    mlp = 3 * INTER * HIDDEN
    matrices = 2 * VOCAB * HIDDEN + sum((attention if i in ATTENTION else mamba) + mlp for i in range(LAYERS))
    vectors = sum(2 * HIDDEN + (0 if i in ATTENTION else mamba_vectors) for i in range(LAYERS)) + HIDDEN
    return matrices, vectors, VOCAB * HIDDEN


def adapters(rank):
    """(adapted matrices as (in, out), adapter elements): in_proj, out_proj, q, k, v, o, gate, up, down."""
    shapes = []
    for i in range(LAYERS):
        if i in ATTENTION:
            shapes += [(HIDDEN, HEADS * HEAD_DIM), (HIDDEN, KV_HEADS * HEAD_DIM), (HIDDEN, KV_HEADS * HEAD_DIM), (HEADS * HEAD_DIM, HIDDEN)]
        else:
            shapes += [(HIDDEN, IN_PROJ), (M_INNER, HIDDEN)]
        shapes += [(HIDDEN, INTER), (HIDDEN, INTER), (INTER, HIDDEN)]
    return shapes, sum(rank * (i + o) for i, o in shapes)


def tapes(rows):
    """Float32 elements of one layer's tape, by kind: the skeleton's (xin, normed, xmid, normed2) and each sublayer's."""
    skeleton = 4 * rows * HIDDEN
    mamba = rows * (IN_PROJ + 2 * CONV_DIM + M_HEADS + 2 * M_INNER) + M_HEADS
    attention = rows * (2 * HEADS * HEAD_DIM + 2 * KV_HEADS * HEAD_DIM + HEADS)
    mlp = 3 * rows * INTER
    return skeleton, mamba, attention, mlp


SSD_STATE_INTERVAL = 32  # CudaTrainOps.SsdStateInterval


def scan_states(rows, sequences, all_states):
    """(name, float32 elements) of the scan backward's state buffers, for `sequences` equal sequences in `rows`."""
    if all_states:
        return "bwd.ssd.states [rows, d_inner, d_state]", rows * M_INNER * D_STATE
    length = rows // sequences
    slots = sequences * ((length + SSD_STATE_INTERVAL - 1) // SSD_STATE_INTERVAL - 1 + min(SSD_STATE_INTERVAL, length))
    return "bwd.ssd.checkpoints + chunk [slots, d_inner, d_state]", slots * M_INNER * D_STATE


def backward_scratch(rows, sequences, rank, all_states):
    """Float32 elements of the backward's shared buffers, by name (bwd.*, lora.dlow, loss.*)."""
    states, elements = scan_states(rows, sequences, all_states)
    return {
        states: elements,
        "bwd.ssd.db, dc [rows, heads, d_state]": 2 * rows * M_HEADS * D_STATE,
        "bwd.mamba.* (dnormed, dproj, dy, gated, dxbc, ddt, rstd)": rows * (3 * M_INNER + IN_PROJ + CONV_DIM + M_HEADS + GROUPS),
        "bwd.mlp.* (dhidden, dup, dgate, dinput)": rows * (3 * INTER + HIDDEN),
        "bwd.attn.* (dattended, dq, dk, dv, delta)": rows * (2 * HEADS * HEAD_DIM + 2 * KV_HEADS * HEAD_DIM + HEADS),
        "bwd.model.*, bwd.mixer.dinput, fwd.delta, model.x, model.normed": 6 * rows * HIDDEN,
        "small (ssd da/dd, rstd, loss, lora.dlow, fwd.ssd.state)": 2 * sequences * M_HEADS + 3 * rows + rows * rank + M_HEADS * M_HEAD_DIM * D_STATE,
    }


def estimate(rows, sequences, rank, recompute, all_states):
    gb = 1e9
    matrices, vectors, embedding = parameters()
    shapes, adapter_elements = adapters(rank)
    skeleton, mamba, attention, mlp = tapes(rows)
    mamba_layers, attention_layers = LAYERS - len(ATTENTION), len(ATTENTION)
    if recompute:
        kept = LAYERS * rows * HIDDEN + skeleton + mamba + attention + mlp  # the inputs, and one tape of each kind
    else:
        kept = mamba_layers * (skeleton + mamba + mlp) + attention_layers * (skeleton + attention + mlp)
    items = [
        ("base: matrices in bf16", 2 * matrices),
        ("base: embedding and vectors in float32", 4 * (embedding + vectors)),
        ("adapters: fp32 values, grads, 2 moments + bf16 copy", 18 * adapter_elements),
        ("kept inputs + one layer's tapes" if recompute else "every layer's tapes", 4 * kept),
        ("LoRA low-rank activations [rows, r] per matrix", 4 * rows * rank * len(shapes)),
        ("model.logits [rows, vocab] float32", 4 * rows * VOCAB),
        ("gemm.a: the logits' gradient cast to bf16", 2 * rows * VOCAB),
        ("gemm.b: the widest output gradient cast to bf16", 2 * rows * IN_PROJ),
    ]
    items += [(name, 4 * n) for name, n in backward_scratch(rows, sequences, rank, all_states).items()]
    return [(name, b / gb) for name, b in items]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=4096)
    p.add_argument("--sequences", type=int, default=8)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--scan-states", choices=["chunked", "all"], default="chunked")
    a = p.parse_args()
    results = {mode: estimate(a.rows, a.sequences, a.rank, mode, a.scan_states == "all") for mode in (False, True)}
    print(f"| buffer | keeping every layer (GB) | --recompute-activations (GB) |")
    print(f"| --- | ---: | ---: |")
    for (name, kept), (name2, recomputed) in zip(results[False], results[True]):
        label = name if name == name2 else f"{name} / {name2}"
        print(f"| {label} | {kept:.2f} | {recomputed:.2f} |")
    print(f"| **total** | **{sum(b for _, b in results[False]):.1f}** | **{sum(b for _, b in results[True]):.1f}** |")


if __name__ == "__main__":
    main()
