#!/usr/bin/env bash
# Thin wrapper: Verdant vs llama.cpp vs PyTorch eager benchmark (see scripts/bench_compare.py).
# Creates/uses a venv outside the repo ($VERDANT_BENCH_VENV, default ~/.cache/verdant/bench-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/bench_compare.py "$@"
