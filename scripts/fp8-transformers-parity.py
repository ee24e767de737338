#!/usr/bin/env python3
"""Checks an FP8 checkpoint written by `bamba quantize --fp8` against transformers, independently of our reader:
the safetensors files are parsed here (header JSON + torch.frombuffer, float8_e4m3fn as torch decodes it), every
F8_E4M3 weight is dequantized as weight.float() * weight_scale, and transformers' model of the family, with those
float32 weights, must give the per-token log-probabilities of `bamba score --model FP8_DIR` (our CPU weight-only
path) within 1e-4 relative. compressed-tensors is not needed (nor installed on the GPU machine): the model is built
from config.json without its quantization_config.
Needs torch and transformers (the GPU machine has them; CI never runs this).
Usage: scripts/fp8-transformers-parity.py FP8_DIR [BAMBA_COMMAND...]"""
import json, os, struct, subprocess, sys, tempfile

import torch
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForCausalLM

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "I64": torch.int64,
          "F8_E4M3": torch.float8_e4m3fn}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = memoryview(data)[8 + length:]
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = t["data_offsets"]
        raw = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.uint8)
        tensors[name] = raw.view(DTYPES[t["dtype"]]).reshape(t["shape"])
    return tensors


def dequantized(directory):
    index = os.path.join(directory, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    stored = {}
    for f in files:
        stored.update(read_safetensors(os.path.join(directory, f)))
    weights, quantized = {}, 0
    for name, t in stored.items():
        if name.endswith(".weight_scale") or name.endswith(".input_scale"):
            continue
        if t.dtype == torch.float8_e4m3fn:
            scale = stored[name + "_scale"].float()  # [rows, 1] per channel or [1] per tensor: both broadcast
            weights[name] = t.float() * scale
            quantized += 1
        else:
            weights[name] = t.float()
    return weights, quantized


def main():
    fp8 = sys.argv[1]
    bamba = sys.argv[2:] or ["bamba"]
    raw = json.load(open(os.path.join(fp8, "config.json")))
    assert raw["quantization_config"]["quant_method"] == "compressed-tensors", "not a compressed-tensors checkpoint"
    weights, quantized = dequantized(fp8)
    # transformers would hand a quantization_config to compressed-tensors: the float model is loaded from a copy without
    # it, holding the exact float32 products, through from_pretrained so that transformers maps the checkpoint's names
    # onto its modules (Granite's stacked experts, Nemotron-H's backbone. prefix). A bf16 checkpoint's buffers (RoPE)
    # are then taken from the model made in bf16 and widened, as the fixtures were made (and as our engine rounds them
    # for a bfloat16 config).
    stored = raw.get("dtype", raw.get("torch_dtype", "float32"))
    with tempfile.TemporaryDirectory() as plain:
        del raw["quantization_config"]
        json.dump(raw, open(os.path.join(plain, "config.json"), "w"))
        save_file({k: v.contiguous() for k, v in weights.items()}, os.path.join(plain, "model.safetensors"))
        config = AutoConfig.from_pretrained(plain)
        model = AutoModelForCausalLM.from_pretrained(plain, dtype=torch.float32, attn_implementation="eager").eval()
    if stored != "float32":
        rounded = dict(AutoModelForCausalLM.from_config(config, attn_implementation="eager").to(getattr(torch, stored)).float().named_buffers())
        for name, buffer in model.named_buffers():
            buffer.copy_(rounded[name])

    ids = [(17 * t + 5) % config.vocab_size for t in range(48)]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    expected = torch.log_softmax(logits, -1)[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    out = subprocess.run([*bamba, "score", "--model", fp8, "--device", "cpu", "--ids", ",".join(map(str, ids)), "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    ours = torch.tensor(json.loads(out)["token_logprobs"][1:], dtype=torch.float64)
    diff = (ours - expected).abs().max().item()
    limit = 1e-4 * max(1.0, expected.abs().max().item())
    print(f"{fp8}: {type(model).__name__}, {quantized} FP8 weights dequantized; max |bamba − transformers| over "
          f"{len(ids) - 1} log-probs = {diff:.3e} (limit {limit:.3e}): {'PASS' if diff <= limit else 'FAIL'}")
    sys.exit(0 if diff <= limit else 1)


if __name__ == "__main__":
    main()
