"""Writing nodes: the sections (one worker each, or one batch) and the frame around them."""

from __future__ import annotations

from langgraph.types import Send

import writer
from app.settings import GenerateSettings
from app.workflow.nodes.deps import NodeDeps
from app.workflow.options import RunOptions
from app.workflow.state import Frame, SectionRecord, SurveyState, WriteTask, papers_of, usage
from writer import grounded

# The frame's default lengths suit sections of the default length.
DEFAULT_SECTION_WORDS = GenerateSettings.model_fields["words_per_section"].default


def dispatch_writers(state: SurveyState) -> dict:
    """Join point after retrieval; the writers fan out from here (:func:`send_writers`)."""
    return {}


def send_writers(state: SurveyState) -> list[Send] | str:
    """A write_section task per section not yet drafted, or write_sections for all of them
    at once (generate.batch_sections)."""
    pending = sorted((key, record) for key, record in state["sections"].items() if "draft" not in record)
    options = RunOptions.from_json(state["options"])
    # Grounded sections are written together, in order, so that no sentence repeats across them.
    if options.writer_mode == "grounded" or (options.generate.batch_sections and len(pending) > 1):
        return "write_sections"
    topic, title, options = state["topic"], state["outline"]["title"], state["options"]
    return [
        Send("write_section", WriteTask(key=key, topic=topic, survey_title=title, section=record, options=options))
        for key, record in pending
    ]


def section_request(topic: str, survey_title: str, record: SectionRecord, options: RunOptions) -> writer.SectionRequest:
    """What the section writer is asked for."""
    return writer.SectionRequest(
        topic=topic,
        survey_title=survey_title,
        title=record["title"],
        description=record["description"],
        words=options.generate.words_per_section,
        subsections=record["subsections"],
    )


def drafted(draft: writer.SectionDraft) -> SectionRecord:
    """The section record update of one draft."""
    given = [paper.arxiv_id for paper in draft.given]
    return SectionRecord(draft=draft.text, given=given, abstract_words=draft.abstract_words)


def write_section(task: WriteTask, deps: NodeDeps) -> dict:
    """Draft one section from its papers, streaming its text as token events."""
    options, index = RunOptions.from_json(task["options"]), int(task["key"])
    request = section_request(task["topic"], task["survey_title"], task["section"], options)

    def on_text(piece: str) -> None:
        deps.emitter.emit("token", node="write_section", section=index, text=piece)

    draft = writer.write_section(
        deps.llm,
        request,
        papers_of(task["section"]["papers"]),
        options.sampling(),
        grammar_for=deps.grammar_for,
        on_text=on_text,
    )
    for note in draft.notes:
        deps.emitter.warning(note, node="write_section", section=index)
    return {
        "sections": {task["key"]: drafted(draft)},
        "warnings": draft.notes,
        "tokens": usage(draft.prompt_tokens, draft.completion_tokens),
    }


def write_sections(state: SurveyState, deps: NodeDeps) -> dict:
    """Draft all pending sections in one batch (generate.batch_sections), or by construction
    from their papers' abstracts in a grounded run (:func:`write_grounded`)."""
    options = RunOptions.from_json(state["options"])
    pending = sorted((key, record) for key, record in state["sections"].items() if "draft" not in record)
    if options.writer_mode == "grounded":
        return write_grounded(state, deps, options, pending)
    requests = [section_request(state["topic"], state["outline"]["title"], record, options) for _, record in pending]
    papers = [papers_of(record["papers"]) for _, record in pending]
    drafts = writer.write_sections_batch(deps.llm, requests, papers, options.sampling(), grammar_for=deps.grammar_for)
    warnings = [note for draft in drafts for note in draft.notes]
    for note in warnings:
        deps.emitter.warning(note, node="write_sections")
    return {
        "sections": {key: drafted(draft) for (key, _), draft in zip(pending, drafts, strict=True)},
        "warnings": warnings,
        "tokens": usage(sum(d.prompt_tokens for d in drafts), sum(d.completion_tokens for d in drafts)),
    }


def write_grounded(
    state: SurveyState, deps: NodeDeps, options: RunOptions, pending: list[tuple[str, SectionRecord]]
) -> dict:
    """Each pending section built from its papers' abstract sentences, attributed and cited
    (writer.grounded), under its sub-themes; with writer.polish the model may rephrase each
    sentence where the cited abstract still covers it. All sections are written in this one
    step, so no sentence repeats across them."""
    drafts = grounded.write_grounded_sections(
        [(record["title"], papers_of(record["papers"]), subthemes(record)) for _, record in pending]
    )
    if options.polish:
        drafts = grounded.polish_sections(deps.llm, drafts, options.sampling())
    warnings = [note for draft in drafts for note in draft.notes]
    for note in warnings:
        deps.emitter.warning(note, node="write_sections")
    for (key, _), draft in zip(pending, drafts, strict=True):
        deps.emitter.emit("token", node="write_sections", section=int(key), text=draft.text)
    return {
        "sections": {key: drafted(draft) for (key, _), draft in zip(pending, drafts, strict=True)},
        "warnings": warnings,
        "tokens": usage(sum(d.prompt_tokens for d in drafts), sum(d.completion_tokens for d in drafts)),
    }


def subthemes(record: SectionRecord) -> list[grounded.SubTheme]:
    """The sub-themes a grounded section groups its papers under (its planned subsections)."""
    return [grounded.SubTheme(sub["title"], sub["papers"]) for sub in record.get("subthemes", [])]


def write_frame(state: SurveyState, deps: NodeDeps) -> dict:
    """The abstract, introduction and conclusion around the checked sections: in a grounded
    run from the sections' scope, themes and cited papers' own open problems, otherwise by
    the model."""
    options = RunOptions.from_json(state["options"])
    if options.writer_mode == "grounded":
        written = [
            grounded.WrittenSection(record["title"], record["text"], papers_of(record["papers"]))
            for _, record in sorted(state["sections"].items())
        ]
        frame = grounded.write_grounded_frame(state["topic"], written)
    else:
        sections = [(record["title"], record["text"]) for _, record in sorted(state["sections"].items())]
        scale = options.generate.words_per_section / DEFAULT_SECTION_WORDS
        frame = writer.write_frame(
            deps.llm, state["topic"], state["outline"]["title"], sections, options.sampling(), scale
        )
    for note in frame.notes:
        deps.emitter.warning(note, node="write_frame")
    return {
        "frame": Frame(abstract=frame.abstract, introduction=frame.introduction, conclusion=frame.conclusion),
        "warnings": frame.notes,
        "tokens": usage(frame.prompt_tokens, frame.completion_tokens),
    }
