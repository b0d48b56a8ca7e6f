"""`cpmsurvey chat`: talk to the configured model in the terminal, streamed."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.markup import escape

from app.interfaces.cli.context import settings_for
from app.workflow import build_llm
from engine.errors import ContextWindowExceededError, EngineError
from engine.types import LLM, Message, SamplingParams

HELP_LINE = "/reset starts over, /exit (or Ctrl-D) quits, Ctrl-C stops an answer"


def chat(
    ctx: typer.Context,
    prompt: str | None = typer.Option(
        None, "--prompt", "-p", help="One-shot: answer TEXT on stdout and exit ('-' reads it from stdin)."
    ),
    system: str | None = typer.Option(None, "--system", help="System message that opens the conversation."),
    model: str | None = typer.Option(None, "--model", help="Overrides llm.model (a path, hub id or served name)."),
    backend: str | None = typer.Option(None, "--backend", help="Overrides llm.backend: 'local' or 'openai'."),
    temperature: float = typer.Option(0.7, "--temperature", min=0.0, help="0 is greedy."),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", min=1, help="Longest answer, in tokens."),
    seed: int | None = typer.Option(None, "--seed", help="Sampling seed, for repeatable answers."),
) -> None:
    """Chat with the configured model (multi-turn), or answer one --prompt for scripts."""
    settings = settings_for(ctx, **{"llm.model": model, "llm.backend": backend})
    params = SamplingParams(temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    opening: list[Message] = [{"role": "system", "content": system}] if system else []
    status = Console(stderr=True)
    if prompt is not None:
        text = sys.stdin.read() if prompt == "-" else prompt
        if not text.strip():
            raise typer.BadParameter("the prompt is empty", param_hint="--prompt")
        llm = build_llm(settings)
        for piece in llm.stream([*opening, {"role": "user", "content": text}], params):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        return
    with status.status(f"loading {settings.llm.model} ({settings.llm.backend} backend)"):
        llm = build_llm(settings)
    _converse(llm, opening, params, Console(highlight=False))


def _converse(llm: LLM, opening: list[Message], params: SamplingParams, console: Console) -> None:
    """The multi-turn loop: each answer streams in; errors end the turn, not the chat."""
    console.print(f"[bold]{escape(llm.name)}[/bold] · context {llm.context_window} tokens · {HELP_LINE}")
    messages = list(opening)
    while True:
        try:
            line = console.input("[bold cyan]you>[/bold cyan] ")
        except EOFError:
            console.print()
            return
        command = line.strip()
        if not command:
            continue
        if command in ("/exit", "/quit"):
            return
        if command == "/reset":
            messages = list(opening)
            console.print("[dim](conversation cleared)[/dim]")
            continue
        messages.append({"role": "user", "content": line})
        reply = _answer(llm, messages, params, console)
        if reply is None:
            messages.pop()  # the turn failed: let the user try again
        else:
            messages.append({"role": "assistant", "content": reply})


def _answer(llm: LLM, messages: list[Message], params: SamplingParams, console: Console) -> str | None:
    """Stream one answer; the text (partial if interrupted), or None after an error."""
    pieces: list[str] = []
    stream: Iterator[str] = llm.stream(messages, params)
    try:
        for piece in stream:
            console.print(piece, end="", markup=False, soft_wrap=True)
            pieces.append(piece)
    except KeyboardInterrupt:
        console.print(" [dim](stopped)[/dim]")
        return "".join(pieces)
    except ContextWindowExceededError as error:
        console.print(f"\n[red]error:[/red] {escape(str(error))}; /reset starts a new conversation")
        return None
    except EngineError as error:
        console.print(f"\n[red]error:[/red] {escape(str(error))}")
        return None
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # releases the local engine's lock when the answer was cut short
    console.print()
    return "".join(pieces)
