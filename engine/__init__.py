"""The language-model layer: the LLM interface, our local engine and the OpenAI-compatible
backend. Imports only kernels/ from the rest of cpmsurvey."""

from engine.errors import (
    BackendResponseError,
    BackendUnavailableError,
    CheckpointError,
    ContextWindowExceededError,
    EngineError,
)
from engine.types import LLM, Completion, Message, SamplingParams, Schema

__all__ = [
    "LLM",
    "BackendResponseError",
    "BackendUnavailableError",
    "CheckpointError",
    "Completion",
    "ContextWindowExceededError",
    "EngineError",
    "Message",
    "SamplingParams",
    "Schema",
]
