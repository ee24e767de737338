#!/usr/bin/env bash
# bamba against llama.cpp (node-llama-cpp 3.21.1's prebuilt CPU binary) on the same GGUF files: the synthetic
# ~0.5 B Bamba (cpu-0.5b preset, random weights) at each --type given (default q8_0 and q4_k_m), a 128-token
# prompt and 128 new tokens, the same thread count. Prints both engines' prefill and decode rates and the ratios.
# usage: bench/gguf_peer.sh [TYPE ...]     (THREADS=2 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-2}
types=("${@:-q8_0 q4_k_m}")
out=build/gguf-peer
mkdir -p "$out"
dotnet build -c Release src/Bamba.Cli -o "$out/bin" > /dev/null
[ -d tools/llama-cpp/node_modules/node-llama-cpp ] || (cd tools/llama-cpp && npm ci --no-audit --no-fund --ignore-scripts > /dev/null)
bamba() { dotnet "$out/bin/bamba.dll" "$@"; }
prompt=$(seq -s, 1 128)
echo "date: $(date -u +%FT%TZ)  machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)  threads: $threads"
for type in ${types[@]}; do
  file="$out/cpu-0.5b-$type.gguf"
  [ -f "$file" ] || bamba convert --preset cpu-0.5b --type "$type" --out "$file" > /dev/null
  ours=$(DOTNET_PROCESSOR_COUNT=$threads bamba bench --model "$file" --prompt-tokens 128 --new-tokens 128 --format json 2> /dev/null)
  peer=$(node tools/llama-cpp/greedy.mjs --model "$file" --prompt "$prompt" --new 128 --threads "$threads")
  python3 - "$type" "$ours" "$peer" <<'PY'
import json, sys
t, ours, peer = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
lp = peer["prompt_tokens"] / (peer["prefill_ms"] / 1000)
ld = (peer["new_tokens"] - 1) / (peer["decode_ms"] / 1000)
bp, bd = ours["PrefillTokensPerSecond"], ours["DecodeTokensPerSecond"]
print(f"{t}: llama.cpp {peer['llama_cpp']}  prefill {lp:.1f} tok/s  decode {ld:.2f} tok/s")
print(f"{t}: bamba              prefill {bp:.1f} tok/s  decode {bd:.2f} tok/s  ({ours['WeightBytes']/1e9:.2f} GB weights, "
      f"decode stream {ours['DecodeWeightGBps']:.2f} GB/s = {ours['FractionOfCopyBandwidth']:.0%} of the {ours['CopyGBps']:.2f} GB/s bytes-copied rate)")
print(f"{t}: bamba / llama.cpp  prefill {bp/lp:.2f}x  decode {bd/ld:.2f}x")
PY
done
