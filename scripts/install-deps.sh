#!/usr/bin/env bash
# Debian packages the project needs on a fresh machine beyond the .NET 10 SDK:
# - bsdutils: `script`, which runs the CLI under a pseudo-terminal in the tests of its live output and chat.
set -euo pipefail
if command -v script >/dev/null; then exit 0; fi
apt-get update && apt-get install -y --no-install-recommends bsdutils
