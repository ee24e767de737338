"""Loads checkpoints written by `bamba train` in transformers and compares with Bamba.NET's numbers.
Usage: python3 check_checkpoint.py EXPECTED.json — each entry: {"model": DIR, "ids": [...],
"token_logprobs": [null, ...] (from `bamba score`), "tokenize": [{"text": ..., "ids": [...]}] (optional)}."""
import json, sys
import torch
from transformers import AutoModelForCausalLM

worst = 0.0
for case in json.load(open(sys.argv[1])):
    stored = json.load(open(case["model"] + "/config.json")).get("dtype", "float32")
    # A bf16 checkpoint runs in float32 from the rounded weights, with the rounded RoPE buffer, as the fixtures were made.
    model = AutoModelForCausalLM.from_pretrained(case["model"], dtype=getattr(torch, stored), attn_implementation="eager").float().eval()
    ids = torch.tensor([case["ids"]])
    with torch.no_grad():
        logits = model(ids).logits[0]
    logprobs = torch.log_softmax(logits.double(), -1)
    ref = torch.tensor([lp for lp in case["token_logprobs"][1:]], dtype=torch.float64)
    ours = logprobs[:-1].gather(1, ids[0, 1:, None])[:, 0]
    diff = (ours - ref).abs().max().item()
    worst = max(worst, diff)
    print(f"{case['model']}: {type(model).__name__}, {sum(p.numel() for p in model.parameters())} params, "
          f"dtype {next(model.parameters()).dtype}; max |logprob diff| over {len(ref)} tokens = {diff:.3e}")
    if case.get("tokenize"):
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(case["model"] + "/tokenizer.json")
        for t in case["tokenize"]:
            got = tok.encode(t["text"], add_special_tokens=False).ids
            print(f"  tokenizers: {'same ids' if got == t['ids'] else 'DIFFERENT ids'} for {t['text'][:40]!r}; decode round trip {tok.decode(got) == t['text']}")
print(f"worst {worst:.3e}: {'PASS' if worst <= 1e-4 else 'FAIL'}")
