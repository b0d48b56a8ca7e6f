"""`cpmsurvey eval`: score our surveys and SurveyBench's baselines against the human
surveys, with or without a judge, into a comparison report; `--generate` writes our
surveys for the listed topics first (as of each human survey's date). The logic lives in
eval.pipeline, reached through app.interfaces.evaluation as the UI's Evaluate page reaches
it; this command only turns options into its request."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from app.interfaces.cli.context import settings_for
from app.interfaces.evaluation import BASELINES, EvalInputError, EvalOptions, check_options, evaluate, survey_paths
from app.settings import Settings


def _generate(settings: Settings, surveybench: Path, topics: list[str], output: Path, console: Console) -> list[Path]:
    """Write our surveys for `topics` through the batch runner; the finished folders."""
    from app.interfaces.batch import BatchItem, run_batch
    from app.interfaces.cli.progress_view import ProgressView
    from app.workflow import build_llm, prepare_library
    from eval.pipeline import generation_plan

    plan = generation_plan(surveybench, topics)
    (output / "generated").mkdir(parents=True, exist_ok=True)
    (output / "generated" / "topics.jsonl").write_text("".join(json.dumps(p) + "\n" for p in plan), encoding="utf-8")
    items = [BatchItem(index=i, topic=p["topic"], options={k: v for k, v in p.items() if k != "topic"})
             for i, p in enumerate(plan)]
    from app.interfaces.batch import settings_for_item

    with ProgressView(console) as view:
        library = prepare_library(settings, [(i.topic, settings_for_item(settings, i, "--generate")) for i in items],
                                  True, view)
    with console.status(f"loading the model {settings.llm.model!r} ({settings.llm.backend}) ..."):
        llm = build_llm(settings)
    try:
        with ProgressView(console, label_runs=True) as view:
            results = run_batch(settings, items, output / "generated", llm, library, on_event=view, source="--generate")
    finally:
        library.close()
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        console.print(f"[red]failed[/]: {r.topic}: {r.error}")
    return [Path(r.output_dir) for r in results if r.status != "failed" and r.output_dir]


def eval_command(
    ctx: typer.Context,
    surveys: list[str] = typer.Argument(None, help="Our surveys: survey.json files, run folders or run ids."),
    surveybench: Path = typer.Option(..., "--surveybench", help="SurveyBench data folder (HumanSurvey/ and systems)."),
    topics: list[str] = typer.Option([], "--topic", help="Topics to evaluate (repeatable; default: all)."),
    systems: list[str] = typer.Option(list(BASELINES), "--system", help="Baseline systems (repeatable)."),
    generate: list[str] = typer.Option([], "--generate", help="Write our survey on this topic first (repeatable)."),
    deepscholar: Path | None = typer.Option(None, "--deepscholar", help="DeepScholar folder: calibrates the "
                                            "support proxy (without it, no pass rates)."),
    library: Path | None = typer.Option(None, "--library", help="JSONL(.gz) corpus: resolves references by title "
                                        "and supplies abstracts."),
    judge: bool = typer.Option(False, "--judge/--no-judge", help="Also the judge metrics, with the configured LLM."),
    judge_topics: list[str] = typer.Option([], "--judge-topic", help="Topics the judge reads (default: all)."),
    fact_sentences: int = typer.Option(30, "--fact-sentences", min=1, help="Sentences per survey for the fact score."),
    citation_claims: int = typer.Option(30, "--citation-claims", min=1, help="Claims per survey for citations."),
    content_words: int = typer.Option(3000, "--content-words", min=50, help="Words of each survey the judge reads."),
    output: Path | None = typer.Option(None, "--output", help="Report folder (default: data_dir/outputs/eval)."),
) -> None:
    """Score surveys against SurveyBench's human surveys and write a comparison report."""
    from eval.runner import JudgeLimits
    from eval.surveybench import SurveyBenchError

    console = Console(stderr=True)
    settings = settings_for(ctx)
    output = output or settings.outputs_dir / "eval"
    options = EvalOptions(
        surveybench=surveybench, output=output, topics=[*topics, *generate], systems=systems,
        deepscholar=deepscholar, library=library, judge_topics=judge_topics,
        limits=JudgeLimits(fact_sentences, citation_claims, content_words),
    )
    try:
        check_options(options)
        options.ours = survey_paths(settings, surveys or [])
        if generate:
            options.ours += _generate(settings, surveybench, generate, output, console)
        options.topics = topics or generate
        judge_llm = None
        if judge:
            from app.workflow import build_llm

            with console.status(f"loading the judge {settings.llm.model!r} ({settings.llm.backend}) ..."):
                judge_llm = build_llm(settings)
        summary = evaluate(settings, options, judge_llm, on_step=lambda step: console.print(f"[dim]{step}[/]"))
    except EvalInputError as error:
        raise typer.BadParameter(str(error), param_hint=error.option) from None
    except SurveyBenchError as error:
        raise typer.BadParameter(str(error)) from None
    console.print(f"{summary['surveys']} surveys evaluated in {summary['seconds']} s; judge calls "
                  f"{summary['judge_calls']}, cached {summary['judge_cache_hits']}")
    typer.echo(str(output / "report.md"))
