#!/usr/bin/env bash
# Rebuilds models/default from scratch: the corpus (Debian's fortunes, BSD licence), a 4096-token byte-level BPE
# tokenizer, and a small hybrid Bamba (scripts/default-model-config.json) trained on the CPU with `bamba train`.
# Takes about an hour on 2 busy cores (about 200 tokens/s). CI never runs this; the trained model is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d /usr/share/games/fortunes ]; then
  apt-get update && apt-get install -y fortunes fortunes-min
fi

work=build/default-model
mkdir -p "$work"
# A private copy of the binaries, so rebuilding the solution during the long run cannot disturb it.
dotnet build -c Release src/Bamba.Cli -o "$work/bin"
bamba() { dotnet "$work/bin/bamba.dll" "$@"; }
python3 scripts/make-fortunes-corpus.py "$work/fortunes.jsonl"
bamba train-tokenizer --data "$work/fortunes.jsonl" --vocab-size 4096 --out "$work/tokenizer"

rm -rf "$work/checkpoint"
bamba train --config scripts/default-model-config.json --tokenizer "$work/tokenizer" \
  --data "$work/fortunes.jsonl" --out "$work/checkpoint" \
  --steps 800 --batch-tokens 512 --lr 2e-3 --warmup 40 --seed 1 --eval-fraction 0.05 --save-every 200
# The run was planned for 800 steps and then extended with --resume while time allowed: the cosine schedule
# stretches to the new total from step 800 on.
bamba train --data "$work/fortunes.jsonl" --out "$work/checkpoint" --resume --steps 1200 --save-every 100

# The pretrained model is the Hugging Face part of the checkpoint (the optimizer state stays behind); a short
# supervised fine-tune on question/answer turns then makes it the chat model shipped in models/default.
rm -rf "$work/base" && mkdir -p "$work/base"
for f in config.json generation_config.json model.safetensors tokenizer.json tokenizer_config.json; do
  cp "$work/checkpoint/$f" "$work/base/"
done
scripts/make-default-chat-model.sh "$work/base"
