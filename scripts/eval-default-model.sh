#!/usr/bin/env bash
# `bamba eval` on the default model before and after its chat fine-tune (the numbers in models/default/README.md):
# the pretrained model is models/default as first committed (0c19e86), the chat model is models/default now.
# Evaluation data, from Debian's fortunes (installed if missing): the last 600 fortunes as plain text, the last 300
# chat conversations of scripts/make-chat-corpus.py, and scripts/make-riddle-tasks.py's multiple-choice riddles. All
# of it was in the training data; it measures what the fine-tune changed, not generalisation. CI never runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/games/fortunes ]; then
  apt-get update && apt-get install -y fortunes fortunes-min
fi
work=build/default-model-eval
mkdir -p "$work/base"
for f in config.json generation_config.json model.safetensors tokenizer.json tokenizer_config.json; do
  git show "0c19e86:models/default/$f" > "$work/base/$f"
done
python3 scripts/make-fortunes-corpus.py "$work/fortunes.jsonl"
python3 scripts/make-chat-corpus.py "$work/chat.jsonl"
python3 scripts/make-riddle-tasks.py "$work/riddles.jsonl" 200
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
for name, count in (("fortunes", 600), ("chat", 300)):
    texts = [json.loads(line)["text"] for line in open(f"{work}/{name}.jsonl", encoding="utf-8")]
    open(f"{work}/{name}.txt", "w", encoding="utf-8").write("\n\n".join(texts[-count:]))
PY
dotnet build -c Release src/Bamba.Cli -o "$work/bin" >/dev/null
for model in "$work/base" models/default; do
  echo "== $model"
  dotnet "$work/bin/bamba.dll" eval --model "$model" --perplexity "$work/fortunes.txt"
  dotnet "$work/bin/bamba.dll" eval --model "$model" --perplexity "$work/chat.txt"
  dotnet "$work/bin/bamba.dll" eval --model "$model" --tasks "$work/riddles.jsonl"
done
