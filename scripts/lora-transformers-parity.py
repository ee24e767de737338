#!/usr/bin/env python3
"""Checks a PEFT-format LoRA adapter written by `bamba train --lora-rank` against transformers: merges it into the
base with plain torch (W + (lora_alpha/r)·B·A for every adapted module, float32), runs the merged model, and compares
its per-token log-probabilities with `bamba score --model BASE --lora ADAPTER` (unmerged) within 1e-4.
Needs torch, transformers and safetensors (the GPU machine has them; CI never runs this).
Usage: scripts/lora-transformers-parity.py BASE_DIR ADAPTER_DIR [--device cpu|cuda] [--bamba CMD]
(--device cuda scores with the adapter on the GPU in the fp32 parity mode; --bamba names the bamba executable.)"""
import argparse, glob, json, os, shlex, shutil, subprocess, sys, tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

parser = argparse.ArgumentParser(description="bamba --lora against transformers with the adapter merged by hand")
parser.add_argument("base")
parser.add_argument("adapter")
parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
parser.add_argument("--bamba", default="bamba", help="the bamba command (e.g. 'dotnet run --project src/Bamba.Cli --')")
args = parser.parse_args()
base, adapter = args.base, args.adapter
bamba = shlex.split(args.bamba)
device = ["--device", "cuda", "--precision", "fp32"] if args.device == "cuda" else []
config = json.load(open(f"{adapter}/adapter_config.json"))
scale = config["lora_alpha"] / config["r"]
tensors = load_file(f"{adapter}/adapter_model.safetensors")

# Merged into the checkpoint's own tensors (the adapter names those), then loaded by transformers, which maps a
# family's checkpoint names (Nemotron-H's backbone.*) onto its modules.
weights = {}
for shard in sorted(glob.glob(f"{base}/*.safetensors")):
    weights.update({k: v.float() for k, v in load_file(shard).items()})
prefix, merged = "base_model.model.", 0
for name, a in tensors.items():
    if not name.endswith(".lora_A.weight"):
        continue
    module = name[len(prefix):-len(".lora_A.weight")]
    b = tensors[f"{prefix}{module}.lora_B.weight"]
    if module + ".weight" not in weights:
        sys.exit(f"the base checkpoint has no tensor {module}.weight for the adapter's module {module}")
    weights[module + ".weight"] += scale * (b.float() @ a.float())
    merged += 1
with tempfile.TemporaryDirectory() as scratch:
    for extra in ("config.json", "generation_config.json"):
        if os.path.exists(f"{base}/{extra}"):
            shutil.copy(f"{base}/{extra}", scratch)
    save_file({k: v.contiguous() for k, v in weights.items()}, f"{scratch}/model.safetensors")
    model = AutoModelForCausalLM.from_pretrained(scratch, dtype=torch.float32).eval()

ids = [(17 * t + 5) % model.config.vocab_size for t in range(48)]
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0].float()
expected = torch.log_softmax(logits, -1)[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0]

out = subprocess.run([*bamba, "score", "--model", base, "--lora", adapter, "--ids", ",".join(map(str, ids)), "--format", "json", *device],
                     check=True, capture_output=True, text=True).stdout
ours = torch.tensor(json.loads(out)["token_logprobs"][1:], dtype=torch.float32)
diff = (ours - expected).abs().max().item()
print(f"{merged} adapted modules ({args.device}); max |bamba --lora − transformers merged| over {len(ids) - 1} log-probs = {diff:.3e}")
sys.exit(0 if diff <= 1e-4 * max(1.0, expected.abs().max().item()) else 1)
