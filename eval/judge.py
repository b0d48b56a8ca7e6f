"""A judge: any engine.LLM asked for JSON verdicts at temperature 0, with every reply cached
on disk by the hash of the judge's identity, the conversation, the schema and the
sampling settings, so that a second run makes no model calls.

A reply that does not validate against its schema is asked again with a format
reminder (a different conversation, so a different cache entry); after the last retry
the answer is recorded as unparsable (``value`` None), never as a score.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from engine.errors import BackendResponseError, ContextWindowExceededError
from engine.types import LLM, Message, SamplingParams
from eval.prompts import FORMAT_REMINDER, JUDGE_SYSTEM
from retriever.atomic_write import write_atomically

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger(__name__)
# Failures of one request, not of the judge: the request is read as unparsable. A broken
# constraint (engine.constrained.GrammarError) is not one of them: it is a bug, and stops the run.
REQUEST_ERRORS = (BackendResponseError, ContextWindowExceededError)


@dataclass(slots=True)
class JudgeAnswer(Generic[T]):
    """One verdict: the parsed value (None when unparsable) and the raw replies tried."""

    value: T | None
    replies: list[str] = field(default_factory=list)

    @property
    def unparsable(self) -> bool:
        """True when no reply validated."""
        return self.value is None


class ReplyCache:
    """Replies on disk, one JSON file per key under two-character folders; writes are
    atomic (a crash leaves either the old state or the new file, never half a file)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The cached reply, or None."""
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))["reply"]
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, reply: str, record: dict) -> None:
        """Store a reply with the request it answers (for inspection)."""
        write_atomically(self._path(key), json.dumps({"reply": reply, **record}, ensure_ascii=False))


class Judge:
    """Asks an LLM for schema-shaped verdicts, through the cache. `batch_size`
    conversations go to ``batch_chat`` at once; `progress` names a tqdm bar (None: none)."""

    def __init__(
        self,
        llm: LLM,
        cache_dir: Path,
        max_new_tokens: int = 256,
        retries: int = 1,
        batch_size: int = 8,
    ) -> None:
        self.llm = llm
        self.cache = ReplyCache(cache_dir)
        self.params = SamplingParams(temperature=0.0, max_new_tokens=max_new_tokens)
        self.retries = retries
        self.batch_size = batch_size
        self.calls = 0
        self.cache_hits = 0
        self.errors = 0

    @property
    def name(self) -> str:
        """The judge model's name, as tables print it."""
        return self.llm.name

    def _conversation(self, prompt: str, attempt: int, previous: str) -> list[Message]:
        messages: list[Message] = [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": prompt}]
        if attempt:
            messages += [{"role": "assistant", "content": previous}, {"role": "user", "content": FORMAT_REMINDER}]
        return messages

    def _key(self, messages: list[Message], schema: type[BaseModel]) -> str:
        record = {
            "judge": self.llm.name,
            "messages": messages,
            "schema": schema.model_json_schema(),
            "temperature": self.params.temperature,
            "max_new_tokens": self.params.max_new_tokens,
        }
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()

    def ask_many(self, prompts: Sequence[str], schema: type[T], progress: str | None = None) -> list[JudgeAnswer[T]]:
        """One verdict per prompt, in order."""
        answers: list[JudgeAnswer[T]] = [JudgeAnswer(None) for _ in prompts]
        pending = list(range(len(prompts)))
        for attempt in range(self.retries + 1):
            if not pending:
                break
            conversations = [
                self._conversation(prompts[i], attempt, answers[i].replies[-1] if answers[i].replies else "")
                for i in pending
            ]
            replies = self._replies(conversations, schema, progress if attempt == 0 else None)
            still = []
            for index, reply in zip(pending, replies, strict=True):
                answers[index].replies.append(reply)
                try:
                    answers[index].value = schema.model_validate_json(reply)
                except ValidationError:
                    still.append(index)
            pending = still
        return answers

    def ask(self, prompt: str, schema: type[T]) -> JudgeAnswer[T]:
        """One verdict."""
        return self.ask_many([prompt], schema)[0]

    def _replies(self, conversations: list[list[Message]], schema: type[BaseModel], progress: str | None) -> list[str]:
        keys = [self._key(messages, schema) for messages in conversations]
        replies: list[str | None] = [self.cache.get(key) for key in keys]
        self.cache_hits += sum(reply is not None for reply in replies)
        missing = [i for i, reply in enumerate(replies) if reply is None]
        bar = None
        if progress and missing:
            from tqdm import tqdm

            bar = tqdm(total=len(missing), desc=f"{progress} ({self.llm.name})", unit="call")
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            for i, text in zip(chunk, self._generate([conversations[i] for i in chunk], schema), strict=True):
                replies[i] = text
                if text is not None:
                    self.cache.put(keys[i], text, {"judge": self.llm.name, "messages": conversations[i]})
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return [reply or "" for reply in replies]

    def _generate(self, conversations: list[list[Message]], schema: type[BaseModel]) -> list[str | None]:
        """Replies to a batch. When the batch fails on one request's error (a rejected or
        too long request), each conversation is asked alone and
        the ones that fail again get None: not cached, so a later run asks again, and read
        as unparsable now. A backend that is down stops the evaluation."""
        self.calls += len(conversations)
        try:
            return [c.text for c in self.llm.batch_chat(conversations, self.params, schema=schema)]
        except REQUEST_ERRORS as error:
            log.warning("judge batch failed (%s); asking its %d conversations one by one", error, len(conversations))
        texts: list[str | None] = []
        for messages in conversations:
            try:
                texts.append(self.llm.chat(messages, self.params, schema=schema).text)
            except REQUEST_ERRORS as error:
                self.errors += 1
                log.warning("judge request failed: %s", error)
                texts.append(None)
        return texts
