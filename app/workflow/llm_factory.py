"""Build the configured language model (settings.llm) behind the engine.LLM interface."""

from __future__ import annotations

import logging

from app.settings import Settings, SettingsError
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
