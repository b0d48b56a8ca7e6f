#!/usr/bin/env bash
# Install everything, then write a survey with the embedded defaults.
#   bash scripts/quickstart.sh ["TOPIC"] [more `cpmsurvey generate` options, e.g. --corpus FILE]
# Offline, pass --corpus with a JSONL(.gz) file of papers; online, papers come from arXiv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
topic=${1:-"Reinforcement Learning for Large Language Models"}
shift || true
.venv/bin/cpmsurvey generate "$topic" "$@"
