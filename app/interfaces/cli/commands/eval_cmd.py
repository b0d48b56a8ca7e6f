"""`cpmsurvey eval`: score our surveys and SurveyBench's baselines against the human
surveys, with or without a judge, into a comparison report; `--generate` writes our
surveys for the listed topics first (as of each human survey's date). The logic lives in
eval.pipeline; this command only turns options into its request."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from app.interfaces.cli.context import settings_for
from app.settings import Settings

BASELINES = ("OpenAI_DeepResearch", "AutoSurvey", "SurveyForge", "LLMxMR-V2")


def _our_paths(settings: Settings, surveys: list[str]) -> list[Path]:
    """survey.json files, run folders, or run ids (looked up in the run database)."""
    paths = []
    for given in surveys:
        path = Path(given).expanduser()
        if path.exists():
            paths.append(path)
            continue
        from app.workflow import inspect_run, open_checkpointer

        info = inspect_run(open_checkpointer(settings.runs_db_path), given, settings.runs_db_path)
        if info.output_dir is None or not (Path(info.output_dir) / "survey.json").is_file():
            raise typer.BadParameter(f"run {given} has no finished survey yet; finish it with `cpmsurvey generate "
                                     f"--resume {given}`", param_hint="SURVEYS")
        paths.append(Path(info.output_dir))
    return paths


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
    from eval.judge import Judge
    from eval.pipeline import EvalRequest, check_topics, run_evaluation
    from eval.runner import JudgeLimits
    from eval.surveybench import SurveyBenchError
    from retriever.embeddings import load_embedder

    console = Console(stderr=True)
    settings = settings_for(ctx)
    output = output or settings.outputs_dir / "eval"
    unknown = sorted(set(systems) - set(BASELINES))
    if unknown:
        choices = ", ".join(BASELINES)
        raise typer.BadParameter(f"unknown systems {unknown}; choose from {choices}", param_hint="--system")
    try:
        check_topics(surveybench, [*topics, *generate, *judge_topics])
        ours = _our_paths(settings, surveys or [])
        if generate:
            ours += _generate(settings, surveybench, generate, output, console)
        judge_llm = None
        if judge:
            from app.workflow import build_llm

            with console.status(f"loading the judge {settings.llm.model!r} ({settings.llm.backend}) ..."):
                judge_llm = Judge(build_llm(settings), settings.data_dir / "judge-cache")
        retrieval = settings.retrieval
        with console.status("loading the embedding model ..."):
            embedder = load_embedder(retrieval.embedding_model, retrieval.embedding_backend,
                                     retrieval.model_cache_dir or settings.data_dir / "models")
        request = EvalRequest(
            surveybench=surveybench, out=output, deepscholar=deepscholar, library=library,
            topics=topics or (generate or None), systems=systems, ours=ours, judge_topics=judge_topics or None,
            limits=JudgeLimits(fact_sentences, citation_claims, content_words),
        )
        summary = run_evaluation(request, embedder, judge_llm)
    except SurveyBenchError as error:
        raise typer.BadParameter(str(error)) from None
    console.print(f"{summary['surveys']} surveys evaluated in {summary['seconds']} s; judge calls "
                  f"{summary['judge_calls']}, cached {summary['judge_cache_hits']}")
    typer.echo(str(output / "report.md"))
