"""The checkpoint's tokenizer and chat template through transformers' tokenizer classes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from engine.errors import CheckpointError
from engine.types import Message

logger = logging.getLogger(__name__)


class ChatTokenizer:
    """Text <-> token ids and the chat template of one checkpoint."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    @classmethod
    def from_directory(cls, directory: Path) -> ChatTokenizer:
        return cls(_load(str(directory)))

    @classmethod
    def from_gguf(cls, path: Path) -> ChatTokenizer:
        """transformers rebuilds the tokenizer from the GGUF metadata (vocab, merges, template)."""
        return cls(_load(str(path.parent), gguf_file=path.name))

    @property
    def eos_token_id(self) -> int | None:
        return self.tokenizer.eos_token_id

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else (self.tokenizer.eos_token_id or 0)

    def encode(self, text: str) -> list[int]:
        """Token ids of plain text, without special tokens."""
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def chat_prompt(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of a conversation rendered by the checkpoint's chat template, ready for the reply."""
        if not self.tokenizer.chat_template:
            raise CheckpointError(
                "the checkpoint has no chat template; use an instruction-tuned model (its tokenizer_config.json "
                "or GGUF metadata carries one)"
            )
        text = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        return self.tokenizer.encode(text, add_special_tokens=False)


def _load(source: str, **kwargs):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"cannot load the tokenizer from {source} {kwargs or ''}: {exc}") from None
