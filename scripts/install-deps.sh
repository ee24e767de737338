#!/usr/bin/env bash
# What the project needs on a fresh machine beyond the .NET 10 SDK: the pinned llama.cpp peer (node-llama-cpp,
# from tools/llama-cpp/package-lock.json) for the GGUF agreement tests and benchmarks; node and npm must be present.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d tools/llama-cpp/node_modules/node-llama-cpp ]; then
  (cd tools/llama-cpp && npm ci --no-audit --no-fund --ignore-scripts)
fi
