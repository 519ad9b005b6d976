#!/usr/bin/env bash
# Every benchmark, one command: login vs the floor (rounds), the peers side by side, the
# edit cost as the file grows, credential_process, the tray's footprint; then BENCHMARKS.md and its chart.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/login.sh
bench/peers.sh
bench/process.sh
bench/footprint.sh
.venv-bench/bin/python bench/report.py
