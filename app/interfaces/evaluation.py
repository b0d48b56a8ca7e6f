"""Evaluations as every interface starts them. `cpmsurvey eval` and the UI's Evaluate page
turn their options into :class:`EvalOptions` and call :func:`evaluate`; the scoring and the
report are eval.pipeline's (:func:`eval.pipeline.run_evaluation`), the same for both."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.settings import Settings

if TYPE_CHECKING:  # eval and engine load when an evaluation runs, not with `cpmsurvey --help`
    from engine.types import LLM
    from eval.runner import EvalItem, JudgeLimits

BASELINES = ("OpenAI_DeepResearch", "AutoSurvey", "SurveyForge", "LLMxMR-V2")
JUDGE_CACHE = "judge-cache"  # under the data folder: a second run asks the judge nothing new


class EvalInputError(ValueError):
    """An option of an evaluation cannot be used. `option` names it as the CLI spells it."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(slots=True)
class EvalOptions:
    """What to evaluate and where the report goes. `ours`: our surveys (survey.json files or
    run folders; see :func:`survey_paths` for run ids); `topics` empty: every SurveyBench
    topic; `judge_topics` empty: every evaluated topic (when there is a judge)."""

    surveybench: Path
    output: Path
    ours: Sequence[Path] = ()
    topics: Sequence[str] = ()
    systems: Sequence[str] = BASELINES
    deepscholar: Path | None = None
    library: Path | None = None
    judge_topics: Sequence[str] = ()
    limits: JudgeLimits | None = None  # None: eval.runner.JudgeLimits' defaults


def surveybench_topics(root: Path) -> list[str]:
    """The topics of the SurveyBench folder `root`; EvalInputError when it is not one."""
    from eval.surveybench import SurveyBenchError, topics

    try:
        return topics(root)
    except SurveyBenchError as error:
        raise EvalInputError(str(error), "--surveybench") from None


def check_options(options: EvalOptions) -> None:
    """Refuse unknown baseline systems and topics (naming the known ones) before any work."""
    from eval.pipeline import check_topics
    from eval.surveybench import SurveyBenchError

    unknown = sorted(set(options.systems) - set(BASELINES))
    if unknown:
        raise EvalInputError(f"unknown systems {unknown}; choose from {', '.join(BASELINES)}", "--system")
    try:
        check_topics(options.surveybench, [*options.topics, *options.judge_topics])
    except SurveyBenchError as error:
        raise EvalInputError(str(error), "--topic") from None


def survey_paths(settings: Settings, given: Sequence[str]) -> list[Path]:
    """Our surveys from survey.json files, run folders, or run ids (looked up in the run
    database); EvalInputError for a run that has not finished."""
    paths = []
    for name in given:
        path = Path(name).expanduser()
        if path.exists():
            paths.append(path)
            continue
        from app.workflow import inspect_run, open_checkpointer

        info = inspect_run(open_checkpointer(settings.runs_db_path), name, settings.runs_db_path)
        if info.output_dir is None or not (Path(info.output_dir) / "survey.json").is_file():
            raise EvalInputError(
                f"run {name} has no finished survey yet; finish it with `cpmsurvey generate --resume {name}`",
                "SURVEYS",
            )
        paths.append(Path(info.output_dir))
    return paths


def evaluate(
    settings: Settings,
    options: EvalOptions,
    judge_llm: LLM | None = None,
    on_step: Callable[[str], None] | None = None,
    progress: Callable[[int, int, EvalItem], None] | None = None,
) -> dict:
    """Score `options`' surveys and write the report to ``options.output``; the summary of
    eval.pipeline.run_evaluation. With `judge_llm`, the judge metrics too (replies cached
    under the data folder). `on_step(message)` hears each preparation step; `progress(done,
    total, item)` hears each survey before it is scored."""
    from eval.judge import Judge
    from eval.pipeline import EvalRequest, run_evaluation
    from eval.runner import JudgeLimits
    from retriever.embeddings import load_embedder

    check_options(options)
    say = on_step or (lambda message: None)
    judge = Judge(judge_llm, settings.data_dir / JUDGE_CACHE) if judge_llm is not None else None
    retrieval = settings.retrieval
    say("loading the embedding model ...")
    embedder = load_embedder(
        retrieval.embedding_model,
        retrieval.embedding_backend,
        retrieval.model_cache_dir or settings.data_dir / "models",
    )
    request = EvalRequest(
        surveybench=options.surveybench,
        out=options.output,
        deepscholar=options.deepscholar,
        library=options.library,
        topics=list(options.topics) or None,
        systems=list(options.systems),
        ours=list(options.ours),
        judge_topics=list(options.judge_topics) or None,
        limits=options.limits or JudgeLimits(),
    )
    say(f"scoring the surveys{f' (judge: {judge.name})' if judge else ''} ...")
    return run_evaluation(request, embedder, judge, progress=progress)
