#!/usr/bin/env python3
"""Builds the default model's corpus from the Debian `fortunes` and `fortunes-min` packages (BSD licence, see
/usr/share/doc/fortunes*/copyright): one JSON line {"text": ...} per fortune, files in sorted order.
ascii-art is left out (drawings, not prose); backspace overstrikes (x\\bx) are removed."""
import json, os, re, sys

SOURCE = "/usr/share/games/fortunes"
SKIP = {"ascii-art"}

def fortunes(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    text = re.sub(r".\x08", "", text)
    for block in re.split(r"^%\s*$", text, flags=re.M):
        block = "\n".join(line.rstrip() for line in block.strip("\n").split("\n")).strip()
        if block:
            yield block

def main(out):
    names = sorted(n for n in os.listdir(SOURCE)
                   if not n.endswith((".dat", ".u8")) and n not in SKIP and os.path.isfile(os.path.join(SOURCE, n)))
    count = 0
    with open(out, "w", encoding="utf-8") as f:
        for name in names:
            for block in fortunes(os.path.join(SOURCE, name)):
                f.write(json.dumps({"text": block}, ensure_ascii=False) + "\n")
                count += 1
    print(f"{out}: {count} fortunes from {len(names)} files", file=sys.stderr)

if __name__ == "__main__":
    main(sys.argv[1])
