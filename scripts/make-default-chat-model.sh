#!/usr/bin/env bash
# Turns the pretrained default model into the chat model shipped in models/default: a short supervised fine-tune on
# question/answer conversations built from the same fortunes (scripts/make-chat-corpus.py), with the chat template
# of scripts/default-chat-template.jinja put into tokenizer_config.json. The loss covers every token of a
# conversation (questions too). About 15-20 minutes on 2 busy cores. CI never runs this; the result is committed.
# Usage: scripts/make-default-chat-model.sh BASE_MODEL_DIR   (scripts/make-default-model.sh passes the pretrained one)
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: $0 BASE_MODEL_DIR}

if [ ! -d /usr/share/games/fortunes ]; then
  apt-get update && apt-get install -y fortunes fortunes-min
fi

work=build/default-chat-model
mkdir -p "$work"
# A private copy of the binaries, so rebuilding the solution during the run cannot disturb it.
dotnet build -c Release src/Bamba.Cli -o "$work/bin"
bamba() { dotnet "$work/bin/bamba.dll" "$@"; }
python3 scripts/make-chat-corpus.py "$work/chat.jsonl"

# The base model's tokenizer, with the chat template added to its tokenizer_config.json.
rm -rf "$work/tokenizer" && mkdir -p "$work/tokenizer"
cp "$base/tokenizer.json" "$work/tokenizer/"
python3 - "$base/tokenizer_config.json" scripts/default-chat-template.jinja "$work/tokenizer/tokenizer_config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1], encoding="utf-8"))
config["chat_template"] = open(sys.argv[2], encoding="utf-8").read()
json.dump(config, open(sys.argv[3], "w", encoding="utf-8"), indent=2, ensure_ascii=False)
PY

rm -rf "$work/checkpoint"
bamba train --model "$base" --tokenizer "$work/tokenizer" --data "$work/chat.jsonl" --out "$work/checkpoint" \
  --steps 240 --batch-tokens 512 --lr 1e-3 --warmup 10 --seed 1 --eval-fraction 0.03 --eval-tokens 16384 \
  --eval-every 40 --save-every 40 --no-progress "${@:2}"

# Sampling defaults for chat: greedy decoding of a model this small loops on its favourite phrases.
python3 - "$work/checkpoint/generation_config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1], encoding="utf-8"))
config.update(do_sample=True, temperature=0.7, top_k=40, repetition_penalty=1.2)
json.dump(config, open(sys.argv[1], "w", encoding="utf-8"), indent=2)
PY

rm -rf models/default && mkdir -p models/default
for f in config.json generation_config.json model.safetensors tokenizer.json tokenizer_config.json; do
  cp "$work/checkpoint/$f" models/default/
done
for f in metrics.jsonl loss.svg; do
  if [ -f "$work/checkpoint/$f" ]; then cp "$work/checkpoint/$f" models/default/; fi
done
