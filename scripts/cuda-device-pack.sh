#!/usr/bin/env bash
# Packs what the GPU tests need on a machine with no .NET SDK into one archive:
# the self-contained xunit.v3 test executable (pruned of test-platform extras) and the fixture models.
# Usage: scripts/cuda-device-pack.sh OUT.tar.xz  (run from the repository root)
set -euo pipefail
out=$(realpath -m "$1")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dotnet publish tests/Bamba.Cuda.Tests -c Release -r linux-x64 --self-contained -p:PublishTrimmed=false -o "$stage/tests" >/dev/null
# Code coverage, other platforms' natives, satellite resources and debugger support are not needed to run tests.
( cd "$stage/tests" && rm -rf CodeCoverage alpine arm64 macos ubuntu x64 x86 cs de es fr it ja ko pl pt-BR ru tr zh-Hans zh-Hant \
    libmscordaccore.so libmscordbi.so createdump libclrgc.so libclrgcexp.so libcoreclrtraceptprovider.so *.pdb )
mkdir -p "$stage/fixtures/models"
cp -r ../shared/fixtures/models/. "$stage/fixtures/models/"
cp ../shared/fixtures/README.md "$stage/fixtures/" 2>/dev/null || true
mkdir -p "$(dirname "$out")"
tar -C "$stage" -cf - tests fixtures | xz -T2 -6 > "$out"
ls -la "$out"
