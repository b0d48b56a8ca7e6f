"""The checkpoint's tokenizer and chat template through transformers' tokenizer classes."""

from __future__ import annotations

import logging
import os
import tempfile
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
    def from_gguf(cls, path: Path, cache_root: Path | None = None) -> ChatTokenizer:
        """transformers rebuilds the tokenizer from the GGUF metadata (vocab, merges, template).

        That conversion is slow (tens of seconds for a 49K vocabulary on 2 cores), so its result is
        kept under `cache_root` (default ~/.cache/cpmsurvey/gguf-tokenizers), keyed by the file's
        name, size and modification time, and later loads read the saved tokenizer.json."""
        cache = _cache_dir(path, cache_root)
        if (cache / "tokenizer_config.json").is_file():
            try:
                return cls(_load(str(cache)))
            except CheckpointError as exc:
                logger.warning("ignoring the unreadable tokenizer cache %s: %s", cache, exc)
        tokenizer = _load(str(path.parent), gguf_file=path.name)
        _save_atomically(tokenizer, cache)
        return cls(tokenizer)

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
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    try:
        return AutoTokenizer.from_pretrained(source, **kwargs)
    except Exception as exc:  # transformers raises many kinds, e.g. for a model_type it does not know
        fast_file = Path(source) / "tokenizer.json"
        if kwargs or not fast_file.is_file():
            raise CheckpointError(f"cannot load the tokenizer from {source} {kwargs or ''}: {exc}") from None
        # AutoTokenizer reads config.json and rejects model types it lacks (minicpm); the tokenizer
        # itself is a plain tokenizer.json, which the generic fast class reads without the config.
        logger.debug("AutoTokenizer failed on %s (%s); reading tokenizer.json directly", source, exc)
        return PreTrainedTokenizerFast.from_pretrained(source)


def _cache_dir(path: Path, cache_root: Path | None) -> Path:
    root = (
        cache_root or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cpmsurvey" / "gguf-tokenizers"
    )
    stat = path.stat()
    return root / f"{path.stem}-{stat.st_size}-{stat.st_mtime_ns}"


def _save_atomically(tokenizer, cache: Path) -> None:
    """Write into a temporary sibling, then rename, so a crash never leaves a half-written cache."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache.parent) as scratch:
            tokenizer.save_pretrained(scratch)
            os.replace(scratch, cache)
            os.mkdir(scratch)  # TemporaryDirectory removes its own path on exit
    except OSError as exc:
        logger.warning("could not cache the converted GGUF tokenizer in %s: %s", cache, exc)
