#!/usr/bin/env python3
"""Builds the default model's chat data from the same Debian fortunes as its pretraining corpus: conversations of
1 to 3 question/answer turns, rendered with the chat template of scripts/default-chat-template.jinja, one JSON line
{"text": ...} per conversation. A fortune that is itself "Q: ... A: ..." gives its own question and answer; any
other fortune answers a question about its file's topic ("Tell me something about love."). Long fortunes are left
out so that replies stay short. The order and the pairing are fixed by the seed, so the file is reproducible."""
import importlib.util, json, os, random, sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("corpus", os.path.join(HERE, "make-fortunes-corpus.py"))
corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corpus)

MAX_ANSWER = 400
EOS = "<|end_of_text|>"
SYSTEM = "You are Bamba, a small model that answers with fortunes."
TOPICS = {
    "art": "art", "computers": "computers", "cookie": "life", "debian": "Debian", "definitions": "words",
    "drugs": "drugs", "education": "school", "food": "food", "goedel": "logic", "humorists": "humour",
    "kids": "children", "law": "the law", "linux": "Linux", "linuxcookie": "Linux", "literature": "books",
    "love": "love", "magic": "magic", "medicine": "medicine", "men-women": "men and women", "news": "the news",
    "paradoxum": "paradoxes", "people": "people", "perl": "Perl", "pets": "pets", "platitudes": "life",
    "politics": "politics", "pratchett": "Discworld", "riddles": "riddles", "science": "science",
    "songs-poems": "poetry", "sports": "sports", "startrek": "Star Trek", "tao": "the Tao", "wisdom": "wisdom",
    "work": "work",
}
TOPIC_QUESTIONS = ["Tell me something about {}.", "What do you know about {}?", "Say something about {}.",
                   "Give me a fortune about {}.", "What is your view on {}?"]
OPEN_QUESTIONS = ["Tell me a fortune.", "Say something wise.", "What should I know today?", "Tell me something.",
                  "Any advice for me?", "What do you think?"]


def render(messages):
    """The text scripts/default-chat-template.jinja renders for these messages (no generation prompt)."""
    out = []
    for m in messages:
        if m["role"] == "system":
            out.append(m["content"] + "\n\n")
        elif m["role"] == "user":
            out.append("Q: " + m["content"] + "\n")
        else:
            out.append("A: " + m["content"] + EOS + "\n")
    return "".join(out)


def pairs(rng):
    """(question, answer) for every usable fortune, file by file in sorted order."""
    names = sorted(n for n in os.listdir(corpus.SOURCE) if not n.endswith((".dat", ".u8"))
                   and n not in corpus.SKIP and os.path.isfile(os.path.join(corpus.SOURCE, n)))
    for name in names:
        for block in corpus.fortunes(os.path.join(corpus.SOURCE, name)):
            if block.startswith("Q:") and "\nA:" in block:
                q, a = block[2:].split("\nA:", 1)
                question, answer = " ".join(q.split()), a.strip()
            else:
                topic = TOPICS.get(name)
                question = rng.choice(TOPIC_QUESTIONS).format(topic) if topic and rng.random() < 0.8 else rng.choice(OPEN_QUESTIONS)
                answer = block
            if 0 < len(answer) <= MAX_ANSWER and EOS not in answer:
                yield question, answer


def main(out, seed=1):
    rng = random.Random(seed)
    all_pairs = list(pairs(rng))
    rng.shuffle(all_pairs)
    count, i = 0, 0
    with open(out, "w", encoding="utf-8") as f:
        while i < len(all_pairs):
            turns = rng.choice([1, 1, 2, 3])
            messages = [{"role": "system", "content": SYSTEM}] if rng.random() < 0.3 else []
            for q, a in all_pairs[i:i + turns]:
                messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
            i += turns
            # `bamba train` ends every document with the eos token itself: the last turn's own is left to it.
            text = render(messages).removesuffix(EOS + "\n")
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
            count += 1
    print(f"{out}: {count} conversations from {len(all_pairs)} question/answer pairs", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
