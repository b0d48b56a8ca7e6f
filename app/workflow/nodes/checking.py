"""The citation check: markers to papers the writer was not given are removed, and with
generate.check_support each cited sentence is checked against its papers' abstracts."""

from __future__ import annotations

import writer
from app.workflow.nodes.deps import NodeDeps
from app.workflow.options import RunOptions
from app.workflow.state import SectionRecord, SurveyState, papers_of, usage


def check_citations(state: SurveyState, deps: NodeDeps) -> dict:
    """Check every drafted section not yet checked; the result is its final `text`."""
    options = RunOptions.from_json(state["options"])
    updates, warnings, tokens = {}, [], usage(0, 0)
    for key, record in sorted(state["sections"].items()):
        if "text" in record:
            continue
        updates[key], notes, used = check_section(record, options, deps)
        for note in notes:
            deps.emitter.warning(note, node="check_citations", section=int(key))
        warnings.extend(notes)
        tokens = {kind: tokens[kind] + used[kind] for kind in tokens}
    return {"sections": updates, "warnings": warnings, "tokens": tokens}


def check_section(
    record: SectionRecord, options: RunOptions, deps: NodeDeps
) -> tuple[SectionRecord, list[str], dict[str, float]]:
    """One section checked: its record update, the warnings, the tokens spent."""
    checked = writer.check_citations(record["draft"], record["given"])
    notes = []
    if checked.removed:
        notes.append(
            f"section {record['title']!r}: removed {len(checked.removed)} citation(s) to papers the writer "
            f"was not given: {', '.join(checked.removed[:5])}"
        )
    text, checks, used = checked.text, [], usage(0, 0)
    # Grounded sentences are their papers' own, under a coverage gate; a model's support
    # check could only reword them away from their source.
    if options.generate.check_support and options.writer_mode != "grounded":
        given = set(record["given"])
        papers = {paper.arxiv_id: paper for paper in papers_of(record["papers"]) if paper.arxiv_id in given}
        support = writer.check_support(deps.llm, text, papers, options.planning_sampling())
        text, checks, used = support.text, support.checks, usage(support.prompt_tokens, support.completion_tokens)
        changed = [check for check in checks if check["action"] != "kept"]
        if changed:
            notes.append(
                f"section {record['title']!r}: {len(changed)} of {len(checks)} cited sentences "
                "were not supported by their papers' abstracts and were rewritten or dropped"
            )
    update = SectionRecord(text=text, removed_citations=checked.removed, support_checks=checks)
    return update, notes, used
