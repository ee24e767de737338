#!/usr/bin/env bash
# bamba against llama.cpp (node-llama-cpp 3.21.1's prebuilt CPU binary) on the same GGUF files: the synthetic
# ~0.5 B Bamba (cpu-0.5b preset, random weights) at each --type given (default bf16, q8_0 and q4_k_m), a 128-token
# prompt and 128 new tokens, the same thread count. The two engines alternate (which goes first swaps every
# repetition) so that a change in the machine's load falls on both. Both are measured warm: each runs the prompt once
# before its timed run (bamba bench until .NET's JIT has settled). The script prints best-of and median for each
# engine, their ratios, and the bytes-copied rate bamba measured in the same run.
# usage: bench/gguf_peer.sh [TYPE ...]     (THREADS=2, REPS=3 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-2}
reps=${REPS:-3}
types=("${@:-bf16 q8_0 q4_k_m}")
out=build/gguf-peer
mkdir -p "$out"
dotnet build -c Release src/Bamba.Cli -o "$out/bin" > /dev/null
[ -d tools/llama-cpp/node_modules/node-llama-cpp ] || (cd tools/llama-cpp && npm ci --no-audit --no-fund --ignore-scripts > /dev/null)
bamba() { dotnet "$out/bin/bamba.dll" "$@"; }
prompt=$(seq -s, 1 128)
echo "date: $(date -u +%FT%TZ)  machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)  threads: $threads  repetitions: $reps  load: $(cut -d' ' -f1-3 /proc/loadavg)"
for type in ${types[@]}; do
  file="$out/cpu-0.5b-$type.gguf"
  [ -f "$file" ] || bamba convert --preset cpu-0.5b --type "$type" --out "$file" > /dev/null
  runs="$out/runs-$type.jsonl"
  : > "$runs"
  for rep in $(seq 1 "$reps"); do
    ours() { echo "{\"engine\":\"bamba\",\"result\":$(DOTNET_PROCESSOR_COUNT=$threads bamba bench --model "$file" --prompt-tokens 128 --new-tokens 128 --format json 2> /dev/null)}" >> "$runs"; }
    peer() { echo "{\"engine\":\"llama.cpp\",\"result\":$(node tools/llama-cpp/greedy.mjs --model "$file" --prompt "$prompt" --new 128 --threads "$threads" --warm 1)}" >> "$runs"; }
    if (( rep % 2 )); then ours; peer; else peer; ours; fi
  done
  python3 - "$type" "$runs" <<'PY'
import json, statistics, sys
t, runs = sys.argv[1], [json.loads(l) for l in open(sys.argv[2])]
def rates(r):
    if r["engine"] == "bamba":
        x = r["result"]; return x["PrefillTokensPerSecond"], x["DecodeTokensPerSecond"]
    x = r["result"]; return x["prompt_tokens"] / (x["prefill_ms"] / 1000), (x["new_tokens"] - 1) / (x["decode_ms"] / 1000)
stats = {}
for engine in ("llama.cpp", "bamba"):
    p, d = zip(*[rates(r) for r in runs if r["engine"] == engine])
    stats[engine] = (max(p), statistics.median(p), max(d), statistics.median(d))
    print(f"{t}: {engine:9}  prefill best {max(p):7.1f} median {statistics.median(p):7.1f} tok/s   decode best {max(d):6.2f} median {statistics.median(d):6.2f} tok/s")
b, l = stats["bamba"], stats["llama.cpp"]
print(f"{t}: bamba / llama.cpp  prefill best {b[0]/l[0]:.2f}x median {b[1]/l[1]:.2f}x   decode best {b[2]/l[2]:.2f}x median {b[3]/l[3]:.2f}x")
ours = [r["result"] for r in runs if r["engine"] == "bamba"]
o = max(ours, key=lambda x: x["DecodeTokensPerSecond"])
print(f"{t}: bamba's best decode streams {o['DecodeWeightGBps']:.2f} GB/s of weights = {o['FractionOfCopyBandwidth']:.0%} of the {o['CopyGBps']:.2f} GB/s bytes-copied rate measured in the same run ({o['WeightBytes']/1e9:.2f} GB weights)")
PY
done
