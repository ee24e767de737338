#!/usr/bin/env python3
"""Multiple-choice tasks for `bamba eval --tasks` from the Debian fortunes' "Q: ... A: ..." riddles: the context is
"Q: question\nA:", the choices are the riddle's own answer and three answers of other riddles (seeded), as
lm-evaluation-harness lines {"context", "choices", "label"}. The riddles are in the default model's training data,
so this measures what it learned of them, not generalisation.
Usage: scripts/make-riddle-tasks.py OUT.jsonl [N]"""
import importlib.util, json, os, random, sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("corpus", os.path.join(HERE, "make-fortunes-corpus.py"))
corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corpus)

out, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200
pairs = []
for block in corpus.fortunes(os.path.join(corpus.SOURCE, "riddles")):
    if block.startswith("Q:") and "\nA:" in block:
        q, a = block[2:].split("\nA:", 1)
        question, answer = " ".join(q.split()), " ".join(a.split())
        if question and answer and len(answer) <= 200 and "Q:" not in answer:
            pairs.append((question, answer))
rng = random.Random(20)
rng.shuffle(pairs)
with open(out, "w", encoding="utf-8") as f:
    for i, (question, answer) in enumerate(pairs[:count]):
        others = rng.sample([a for j, (_, a) in enumerate(pairs) if j != i and a != answer], 3)
        choices = others + [answer]
        rng.shuffle(choices)
        f.write(json.dumps({"context": f"Q: {question}\nA:", "choices": [" " + c for c in choices], "label": choices.index(answer)}) + "\n")
