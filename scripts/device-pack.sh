#!/usr/bin/env bash
# Packs what the GPU machine (no .NET SDK) needs into one archive: the self-contained GPU test executable and the
# `bamba` command in one folder (they share the runtime files, so the archive holds them once) and the fixture models.
# Usage: [MODELS="tiny-bamba ..."] [TOKENIZERS="llama3"] [CLI=0] [PLOTS=0] scripts/device-pack.sh OUT.tar.xz  (run from
# the repository root). TOKENIZERS names fixture tokenizers to add (none by default; llama3's is 9 MB, about 2 MB packed:
# `bench-serve --workload schema` on the bamba-9b preset needs it).
# What travels to the device is capped (64 MiB with the repository), so MODELS can name fewer fixture models (all by
# default), CLI=0 leaves the `bamba` command out and PLOTS=0 the plotting natives (SkiaSharp, HarfBuzzSharp: about
# 4.5 MB packed; only `bamba train`'s loss.svg and `bamba plot` load them, and they fail without them).
set -euo pipefail
out=$(realpath -m "$1")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dotnet publish tests/Bamba.Cuda.Tests -c Release -r linux-x64 --self-contained -p:PublishTrimmed=false -o "$stage/bin" >/dev/null
mkdir -p "$stage/cli"
[ "${CLI:-1}" = 0 ] || dotnet publish src/Bamba.Cli -c Release -r linux-x64 --self-contained -p:PublishTrimmed=false -o "$stage/cli" >/dev/null
# A file both publish (the runtime, Bamba.Core) must be the same in both, or the two programs cannot share a folder.
( cd "$stage/cli" && shopt -s nullglob && for f in *; do
    if [ -d "$f" ]; then cp -rn "$f" "$stage/bin/" # satellite resources: the tests' copy wins (both are dropped below)
    elif [ -e "$stage/bin/$f" ]; then cmp -s "$f" "$stage/bin/$f" || { echo "device-pack: $f differs between the tests and the CLI" >&2; exit 1; }
    else cp -r "$f" "$stage/bin/"; fi
  done )
# Code coverage, other platforms' natives, satellite resources and debugger support are not needed to run.
( cd "$stage/bin" && rm -rf CodeCoverage alpine arm64 macos ubuntu x64 x86 cs de es fr it ja ko pl pt-BR ru tr zh-Hans zh-Hant \
    libmscordaccore.so libmscordbi.so createdump libclrgc.so libclrgcexp.so libcoreclrtraceptprovider.so *.pdb *.xml \
    xunit.runner.visualstudio.testadapter.dll Microsoft.CodeCoverage.* Mono.Cecil*.dll Microsoft.VisualStudio.TraceDataCollector.dll \
    Microsoft.DiaSymReader.dll ) # the last line: Visual Studio's test adapter and coverage, which deps.json does not list
if [ "${PLOTS:-1}" = 0 ]; then
  # The host refuses to start a program whose deps.json lists a file that is absent, so the entries go too.
  python3 - "$stage/bin" <<'PY'
import json, pathlib, sys
for deps in pathlib.Path(sys.argv[1]).glob("*.deps.json"):
    doc = json.loads(deps.read_text())
    for target in doc["targets"].values():
        for lib in target.values():
            for kind in ("native", "runtimeTargets"):
                for path in [p for p in lib.get(kind, {}) if "SkiaSharp" in p or "HarfBuzzSharp" in p]:
                    del lib[kind][path]
    deps.write_text(json.dumps(doc, indent=2))
PY
  rm -f "$stage/bin/libSkiaSharp.so" "$stage/bin/libHarfBuzzSharp.so"
fi
mkdir -p "$stage/fixtures/models"
for m in ${MODELS:-$(ls ../shared/fixtures/models)}; do cp -r "../shared/fixtures/models/$m" "$stage/fixtures/models/"; done
for t in ${TOKENIZERS:-}; do mkdir -p "$stage/fixtures/tokenizers" && cp -r "../shared/fixtures/tokenizers/$t" "$stage/fixtures/tokenizers/"; done
cp ../shared/fixtures/README.md "$stage/fixtures/" 2>/dev/null || true
mkdir -p "$(dirname "$out")"
tar -C "$stage" -cf - bin fixtures | xz -T2 -9 > "$out"
ls -la "$out"
