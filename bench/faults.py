"""Fault harness: random SIGKILLs, SIGINTs and SIGTERMs during `cpmsurvey index` (on the
sample corpus) and `cpmsurvey generate` (against a scripted OpenAI-compatible server, so it
is fast), each followed by a resume and a consistency check.

Index trials: the 5,000-paper sample is cut into one chunk per trial; trial i runs
`index --jsonl chunk_i`, interrupts it at a random moment, runs the same command again to
completion, then checks the library against chunks 0..i: the papers and their ids, every
title as given, FTS5 (its integrity check and row count), every paper embedded and
indexed, the FAISS ids equal the store's, its vectors equal the stored ones, the BM25
matrix synced, no temporary file left.

Generate trials: `generate TOPIC --no-fetch` on that library, interrupted at a random
moment, then `generate --resume ID` to completion; checks: the run is finished, survey.md,
.bib, .tex and .json exist and agree (every section written, every citation a given paper,
the .bib holding exactly the references), no temporary file left.

A recovery that fails its check is a loss; a resume that does not finish is stuck. A
SIGINT or SIGTERM must end the process within 2 s (`slow_stops` counts those that did not).
The last line is one JSON object.

    .venv/bin/python bench/faults.py --interrupts 50 --workdir /tmp/faults

Most generate interrupts are timed from the run's announcement ("run id: ..."), the others
from the process start (start-up: library check, model client).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from scripted_openai_server import MODEL, ScriptedServer  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "arxiv" / "arxiv_cs_CL_LG_AI_sample5k.jsonl.gz"
TOPIC = "reasoning in large language models"
SECTIONS = 3
STOP_LIMIT_S = 2.0
IN_RUN_SHARE = 0.8
IN_RUN_MAX_S = [8.0]  # --in-run-max-s: a run lasts 5-15 s against the scripted server
SIGNALS = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)


DEADLINE = [float("inf")]  # time.monotonic() after which no new trial starts (--deadline-s)


@dataclass
class Tally:
    """What the harness did and found."""

    kills: int = 0
    by_signal: dict[str, int] = field(default_factory=dict)
    recoveries: int = 0
    losses: int = 0
    stuck: int = 0
    missed: int = 0  # the process had finished before the signal: not counted as an interrupt
    slow_stops: int = 0
    max_stop_s: float = 0.0
    last_stop_s: float = 0.0
    problems: list[str] = field(default_factory=list)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", *args]


def environment(data_dir: Path, server_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env.update(
        CPMSURVEY_DATA_DIR=str(data_dir),
        XDG_CONFIG_HOME=str(data_dir / "xdg"),
        CPMSURVEY_GENERATE__SECTIONS=str(SECTIONS),
        CPMSURVEY_GENERATE__WORDS_PER_SECTION="120",
        PYTHONUNBUFFERED="1",
    )
    if server_url:
        env.update(
            CPMSURVEY_LLM__BACKEND="openai",
            CPMSURVEY_LLM__BASE_URL=server_url,
            CPMSURVEY_LLM__MODEL=MODEL,
            CPMSURVEY_WRITER__MODE="abstractive",
        )
    return env


def interrupt(
    command: list[str],
    env: dict[str, str],
    after_s: float,
    sig: signal.Signals,
    log: Path,
    tally: Tally,
    after_text: str | None = None,
):
    """Start `command`, send `sig` `after_s` seconds after it starts (or after `after_text`
    appears on its stderr); returns (stderr text, True when interrupted)."""
    with log.open("w") as err:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        if after_text is not None:
            while after_text not in log.read_text() and process.poll() is None:
                time.sleep(0.05)
        try:
            process.wait(timeout=after_s)
            tally.missed += 1
            return log.read_text(), False
        except subprocess.TimeoutExpired:
            pass
        sent = time.monotonic()
        process.send_signal(sig)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            tally.problems.append(f"{command[3]}: did not stop within 60 s of {sig.name}")
        stop_s = time.monotonic() - sent
    tally.kills += 1
    tally.last_stop_s = round(stop_s, 2)
    tally.by_signal[sig.name] = tally.by_signal.get(sig.name, 0) + 1
    if sig != signal.SIGKILL:
        tally.max_stop_s = max(tally.max_stop_s, round(stop_s, 2))
        if stop_s > STOP_LIMIT_S:
            tally.slow_stops += 1
            tally.problems.append(f"{sig.name} took {stop_s:.1f} s to stop {command[3]}")
    return log.read_text(), True


def run_to_end(command: list[str], env: dict[str, str], timeout_s: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)


# --- index --------------------------------------------------------------------------------


def write_chunks(workdir: Path, count: int) -> list[tuple[Path, list[dict]]]:
    """The sample cut into `count` JSONL files, with their records."""
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    size = len(records) // count
    chunks = []
    for number in range(count):
        part = records[number * size : (number + 1) * size if number + 1 < count else len(records)]
        path = workdir / "chunks" / f"chunk{number:03d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
        chunks.append((path, part))
    return chunks


def library_problems(data_dir: Path, expected: dict[str, str]) -> list[str]:
    """What is wrong with the library at `data_dir`, given the expected id -> title."""
    from app.settings import Settings
    from app.workflow.library import open_library
    from retriever.bm25 import Bm25Matrix
    from retriever.index import VectorIndex

    settings = Settings(data_dir=data_dir)
    problems: list[str] = []
    db = sqlite3.connect(settings.store_path)
    stored = dict(db.execute("SELECT arxiv_id, title FROM papers"))
    if stored.keys() != expected.keys():
        problems.append(f"papers: {len(stored)} stored, {len(expected)} expected")
    changed = [i for i, title in expected.items() if i in stored and stored[i] != " ".join(title.split())]
    if changed:
        problems.append(f"{len(changed)} titles differ, e.g. {changed[0]}")
    try:
        db.execute("INSERT INTO papers_fts(papers_fts) VALUES ('integrity-check')")
    except sqlite3.DatabaseError as error:
        problems.append(f"FTS5 integrity check: {error}")
    if db.execute("SELECT count(*) FROM papers_fts").fetchone()[0] != len(stored):
        problems.append("FTS5 row count differs from the papers")
    rowids = {row[0] for row in db.execute("SELECT id FROM papers")}
    db.close()
    library = open_library(settings)
    try:
        model = library.model_name
        if library.store.count_unembedded(model):
            problems.append(f"{library.store.count_unembedded(model)} papers not embedded")
        if len(library.store.unindexed_rowids(model)):
            problems.append("embedded papers not marked indexed")
        index = VectorIndex.load(settings.index_dir, model)
        if index is None:
            problems.append("no FAISS index")
        else:
            ids = index.ids()
            if set(ids.tolist()) != rowids or len(ids) != len(rowids):
                problems.append(f"FAISS holds {len(ids)} ids, the store {len(rowids)} papers")
            stored_ids, stored_vectors = library.store.embeddings(model)
            by_id = dict(zip(stored_ids.tolist(), range(len(stored_ids)), strict=True))
            inner = index._index.index  # the flat index under the id map: vectors by position
            for position in range(0, len(ids), max(1, len(ids) // 200)):
                vector = inner.reconstruct(position)
                if not (vector == stored_vectors[by_id[int(ids[position])]]).all():
                    problems.append(f"FAISS vector of row {ids[position]} differs from the store's")
                    break
        matrix = Bm25Matrix.load(settings.index_dir, library.store.store_id)
        if matrix is None or matrix.synced_seq != library.store.fts_change_seq():
            problems.append("BM25 matrix missing or behind the store")
    finally:
        library.close()
    leftovers = [p.name for d in (settings.index_dir, settings.data_dir / "models") for p in _temporaries(d)]
    if leftovers:
        problems.append(f"temporary files left: {leftovers[:3]}")
    return problems


def _temporaries(directory: Path) -> list[Path]:
    if not directory.exists():
        return []
    return [p for p in directory.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".export-")]


def index_trials(workdir: Path, data_dir: Path, trials: int, rng: random.Random, tally: Tally) -> None:
    if trials == 0:
        return
    env = environment(data_dir, None)
    chunks = write_chunks(workdir, trials)
    expected: dict[str, str] = {}
    for number, (path, records) in enumerate(chunks):
        if time.monotonic() > DEADLINE[0]:
            break
        command = cli("index", "--jsonl", str(path))
        sig = rng.choice(SIGNALS)
        # process start-up (imports, model load) is 3-6 s here; the work of a chunk a few more
        after = rng.uniform(1.0, 10.0)
        _, interrupted = interrupt(command, env, after, sig, workdir / f"index{number:03d}.log", tally)
        expected.update({r["id"]: r["title"] for r in records})
        finished = run_to_end(command, env)
        if finished.returncode != 0:
            tally.stuck += 1
            tally.problems.append(f"index trial {number}: resume failed: {finished.stderr.strip()[-300:]}")
            continue
        problems = library_problems(data_dir, expected)
        tally.recoveries += interrupted
        if problems:
            tally.losses += 1
            tally.problems.append(f"index trial {number} ({sig.name} at {after:.1f} s): {'; '.join(problems)}")
        stopped = f"stopped in {tally.last_stop_s} s" if interrupted else "had finished"
        print(f"index {number}: {sig.name} at {after:.1f} s, {stopped} -> {problems if problems else 'ok'}", flush=True)


# --- generate -----------------------------------------------------------------------------


def run_ids(data_dir: Path) -> set[str]:
    path = data_dir / "runs.sqlite"
    if not path.exists():
        return set()
    db = sqlite3.connect(path)
    try:
        return {row[0] for row in db.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    except sqlite3.OperationalError:
        return set()
    finally:
        db.close()


def survey_problems(data_dir: Path, run_id: str) -> list[str]:
    """What is wrong with the outputs of the finished run `run_id`."""
    from writer.survey import Survey

    folder = data_dir / "outputs" / run_id
    problems = [f"{name} missing" for name in ("survey.md", "survey.bib", "survey.tex", "survey.json")
                if not (folder / name).is_file()]
    if problems:
        return problems
    survey = Survey.from_json((folder / "survey.json").read_text(encoding="utf-8"))
    if len(survey.sections) != SECTIONS or not all(section.text.strip() for section in survey.sections):
        problems.append(f"{len(survey.sections)} sections, some empty")
    if survey.unresolved_citations:
        problems.append(f"citations of papers not given: {survey.unresolved_citations[:3]}")
    if not survey.references or not survey.abstract or not survey.conclusion:
        problems.append("no references, abstract or conclusion")
    bib_ids = re.findall(r"eprint = \{([^}]+)\}", (folder / "survey.bib").read_text(encoding="utf-8"))
    if bib_ids != [paper.arxiv_id for paper in survey.references]:
        problems.append("survey.bib does not hold exactly the references")
    markdown = (folder / "survey.md").read_text(encoding="utf-8")
    if markdown != survey.to_markdown():
        problems.append("survey.md differs from survey.json's rendering")
    leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    if leftovers:
        problems.append(f"temporary files left: {leftovers}")
    return problems


def generate_trials(workdir: Path, data_dir: Path, trials: int, rng: random.Random, tally: Tally) -> None:
    with ScriptedServer(delay=0.25) as server:
        env = environment(data_dir, server.base_url)
        for number in range(trials):
            if time.monotonic() > DEADLINE[0]:
                break
            before = run_ids(data_dir)
            sig = rng.choice(SIGNALS)
            # most interrupts land inside the run (timed from its announcement), some in start-up
            in_run = rng.random() < IN_RUN_SHARE
            after = rng.uniform(0.0, IN_RUN_MAX_S[0]) if in_run else rng.uniform(0.5, 10.0)
            command = cli("generate", TOPIC, "--no-fetch")
            log = workdir / f"generate{number:03d}.log"
            stderr, interrupted = interrupt(command, env, after, sig, log, tally, "run id:" if in_run else None)
            new = sorted(run_ids(data_dir) - before)
            printed = re.search(r"run id: (\S+)", stderr)
            run_id = printed.group(1) if printed else (new[0] if new else None)
            if run_id is None:  # stopped before the run was recorded: nothing to resume or lose
                tally.recoveries += interrupted
                print(f"generate {number}: {sig.name} {after:.1f} s after start, before the run was recorded, "
                      f"stopped in {tally.last_stop_s} s", flush=True)
                continue
            finished = run_to_end(cli("generate", "--resume", run_id), env)
            if finished.returncode != 0:
                tally.stuck += 1
                tally.problems.append(f"generate trial {number}: resume failed: {finished.stderr.strip()[-300:]}")
                print(f"generate {number}: STUCK {finished.stderr.strip()[-200:]}", flush=True)
                continue
            problems = survey_problems(data_dir, run_id)
            tally.recoveries += interrupted
            if problems:
                tally.losses += 1
                tally.problems.append(f"generate trial {number} ({sig.name} at {after:.1f} s): {'; '.join(problems)}")
            when = f"{after:.1f} s into the run" if in_run else f"{after:.1f} s after start"
            when += f", stopped in {tally.last_stop_s} s" if interrupted else ", had finished"
            print(f"generate {number}: {sig.name} {when} -> {problems if problems else 'ok'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Interrupt index and generate at random; resume; check.")
    parser.add_argument("--interrupts", type=int, default=50, help="trials in all, half index and half generate")
    parser.add_argument("--index-trials", type=int, help="index trials (default: half of --interrupts)")
    parser.add_argument("--generate-trials", type=int, help="generate trials (default: the other half)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cpmsurvey-faults"))
    parser.add_argument("--keep", action="store_true", help="keep the workdir's library (with --index-trials 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deadline-s", type=float, help="start no trial after this many seconds")
    parser.add_argument("--in-run-max-s", type=float, default=8.0, help="latest interrupt into a generate run")
    args = parser.parse_args()
    IN_RUN_MAX_S[0] = args.in_run_max_s
    if args.deadline_s is not None:
        DEADLINE[0] = time.monotonic() + args.deadline_s
    # started in the background by a shell, this process may ignore SIGINT, and its children
    # would inherit that: SIGINT must reach them as it does from a terminal
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if not SAMPLE.is_file():
        sys.exit(f"the sample corpus is not at {SAMPLE}")
    index_count = args.interrupts // 2 if args.index_trials is None else args.index_trials
    generate_count = args.interrupts - index_count if args.generate_trials is None else args.generate_trials
    data_dir = args.workdir / "data"
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    rng, tally = random.Random(args.seed), Tally()
    started = time.perf_counter()
    index_trials(args.workdir, data_dir, index_count, rng, tally)
    generate_trials(args.workdir, data_dir, generate_count, rng, tally)
    result = {**asdict(tally), "seconds": round(time.perf_counter() - started, 1)}
    result["problems"] = tally.problems[:20]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
