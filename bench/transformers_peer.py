"""The peer's figures for `bamba bench`: transformers (eager, bf16, random weights) on the same shapes.

Run on the GPU machine:  python3 bench/transformers_peer.py [--new-tokens 64] [--prefill 1024 4096] [--out FILE.json]
Prints one JSON object: decode ms/token at batch 1 after a 512-token prompt, prefill tokens/s of one prompt of each
length (or the out-of-memory message where eager mode cannot hold it), for the bamba-9b shape and for transformer-8b
(the same dimensions with attention in every layer, as a Llama config).
"""
import argparse, json, time
import torch
from transformers import BambaConfig, BambaForCausalLM, LlamaConfig, LlamaForCausalLM

DIMS = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
            num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192)


def bamba():
    return BambaForCausalLM(BambaConfig(**DIMS, attn_layer_indices=[9, 18, 27], mamba_n_heads=128, mamba_d_head=64,
                                        mamba_n_groups=1, mamba_d_state=128, mamba_d_conv=4, mamba_expand=2,
                                        mamba_chunk_size=256))


def transformer():
    return LlamaForCausalLM(LlamaConfig(**DIMS, rope_theta=10000.0))


def timed(fn):
    torch.cuda.synchronize(); t = time.perf_counter(); out = fn(); torch.cuda.synchronize()
    return out, time.perf_counter() - t


@torch.inference_mode()
def measure(make, new_tokens, prefill_len):
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = make().to(torch.bfloat16).eval()
    prompt = torch.randint(0, DIMS["vocab_size"], (1, 512), device="cuda")
    model.generate(prompt[:, :16], max_new_tokens=4, do_sample=False)  # warm-up
    _, t_short = timed(lambda: model.generate(prompt, max_new_tokens=1, min_new_tokens=1, do_sample=False))
    _, t_long = timed(lambda: model.generate(prompt, max_new_tokens=new_tokens + 1, min_new_tokens=new_tokens + 1, do_sample=False))
    model(prompt[:, :64])
    result = dict(decode_ms_per_token=(t_long - t_short) * 1000 / new_tokens)
    for length in prefill_len:
        long_prompt = torch.randint(0, DIMS["vocab_size"], (1, length), device="cuda")
        try:
            _, t_prefill = timed(lambda: model(long_prompt, logits_to_keep=1))
            result[f"prefill_{length}_tokens_per_s"] = length / t_prefill
        except torch.OutOfMemoryError as e:  # eager Bamba materialises [chunks, L, L, heads, state] products
            result[f"prefill_{length}_tokens_per_s"] = f"out of memory: {str(e).splitlines()[0]}"
            torch.cuda.empty_cache()
    result["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    del model; torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--prefill", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--out")
    a = p.parse_args()
    report = dict(device=torch.cuda.get_device_name(), torch=torch.__version__,
                  bamba_9b=measure(bamba, a.new_tokens, a.prefill), transformer_8b=measure(transformer, a.new_tokens, a.prefill))
    text = json.dumps(report, indent=1)
    print(text)
    if a.out:
        open(a.out, "w").write(text)
