#!/usr/bin/env bash
# What the project needs on a fresh machine beyond the .NET 10 SDK (node and npm must be present):
# - bsdutils: `script`, which runs the CLI under a pseudo-terminal in the tests of its live output and chat;
# - the pinned llama.cpp peer (node-llama-cpp, from tools/llama-cpp/package-lock.json) for the GGUF agreement tests
#   and benchmarks;
# - chromium (Debian's): the headless browser the chat page's tests drive (tests/Bamba.Tests/Browser).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v script >/dev/null; then
  apt-get update && apt-get install -y --no-install-recommends bsdutils
fi
if ! command -v chromium >/dev/null; then
  apt-get update && apt-get install -y --no-install-recommends chromium
fi
if [ ! -d tools/llama-cpp/node_modules/node-llama-cpp ]; then
  (cd tools/llama-cpp && npm ci --no-audit --no-fund --ignore-scripts)
fi
