#!/usr/bin/env bash
# Debian packages the project needs on a fresh machine (none yet beyond the .NET 10 SDK).
set -euo pipefail
exit 0
