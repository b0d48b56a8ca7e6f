"""The configured language model (settings.llm) behind the engine.LLM interface, the limit
on calls in flight, and the citation grammar the writers decode under."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable

from app.settings import Settings, SettingsError
from app.workflow.events import EventEmitter
from engine.types import LLM

log = logging.getLogger(__name__)

# The model setting's default names the bundled local model; on a server it means "the one
# model the server serves".
EMBEDDED = "embedded"


def build_llm(settings: Settings) -> LLM:
    """The LLM that settings.llm describes: our LocalEngine ('local': loads the weights now)
    or an OpenAICompatible client ('openai'). With the openai backend and llm.model left at
    'embedded', the server is asked for its models and the only one is used."""
    llm = settings.llm
    if llm.backend == "local":
        from engine.local import LocalEngine  # lazy: torch and the model load only when asked for

        return LocalEngine.load(
            llm.model, device=llm.device, dtype=llm.dtype, context_window=llm.context_window, native=llm.native_cpu
        )
    from engine.openai_compat import OpenAICompatible

    client = OpenAICompatible(
        llm.base_url,
        llm.model,
        api_key=llm.api_key.get_secret_value() if llm.api_key is not None else None,
        timeout_s=llm.timeout_s,
        max_retries=llm.max_retries,
        context_window=llm.context_window,
        max_concurrency=llm.max_concurrency,
        grammar_field=llm.grammar_field,
    )
    if llm.model != EMBEDDED:
        return client
    served = client.served_models()
    client.close()
    if len(served) != 1:
        listed = ", ".join(served) if served else "none"
        raise SettingsError(
            f"llm.model is not set and the server at {llm.base_url} serves {len(served)} models ({listed}); "
            "set llm.model to one of them, e.g. --set llm.model=NAME"
        )
    log.info("using %s, the model the server at %s serves", served[0], llm.base_url)
    return build_llm(settings.model_copy(update={"llm": llm.model_copy(update={"model": served[0]})}))


def llm_concurrency(settings: Settings) -> int:
    """Calls to have in flight at once: one on the local engine, llm.max_concurrency on a server."""
    return settings.llm.max_concurrency if settings.llm.backend == "openai" else 1


class ConcurrencyLimitedLLM:
    """At most `limit` calls of an LLM at once, across every thread of the process that
    shares this wrapper: one on the local engine (which works on one request at a time),
    llm.max_concurrency against a server."""

    def __init__(self, llm: LLM, limit: int) -> None:
        self._llm = llm
        self._slots = threading.BoundedSemaphore(limit)
        self.name = llm.name

    @property
    def context_window(self) -> int:
        return self._llm.context_window

    def count_tokens(self, text: str) -> int:
        return self._llm.count_tokens(text)

    def chat(self, messages, params, schema=None):
        with self._slots:
            return self._llm.chat(messages, params, schema=schema)

    def stream(self, messages, params, schema=None, grammar=None):
        with self._slots:
            yield from self._llm.stream(messages, params, schema=schema, grammar=grammar)

    def batch_chat(self, conversations, params, schema=None, grammar=None):
        with self._slots:
            return self._llm.batch_chat(conversations, params, schema=schema, grammar=grammar)


def limited(llm: LLM, settings: Settings) -> ConcurrencyLimitedLLM:
    """`llm` behind the concurrency limit of `settings` (unchanged if it is limited already:
    a batch shares one limited LLM between its runs, so the limit holds across them)."""
    return llm if isinstance(llm, ConcurrencyLimitedLLM) else ConcurrencyLimitedLLM(llm, llm_concurrency(settings))


def default_grammar_for(settings: Settings, emitter: EventEmitter) -> Callable[[list[str]], str] | None:
    """The citation grammar builder when constrained citations are on and the engine has one."""
    if not settings.generate.constrain_citations:
        return None
    try:
        from engine.constrained import citation_grammar
    except ImportError:
        emitter.warning("constrained citations are unavailable (engine.constrained missing); checking them afterwards")
        return None
    if not settings.generate.cite_every_paragraph:
        return citation_grammar
    return functools.partial(citation_grammar, cite_every_paragraph=True)
