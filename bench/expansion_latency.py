"""What a survey's candidate search costs a fresh process: the first `expanded_search` and
the warm ones after it, on a library that bench/retrieval.py built.

    .venv/bin/python bench/retrieval.py --workdir /tmp/w           # once: ingest and embed the corpus
    .venv/bin/python bench/expansion_latency.py --workdir /tmp/w --processes 5
    git archive REV retriever | tar -x -C /tmp/old     # an older retriever/ to compare with
    .venv/bin/python bench/expansion_latency.py --workdir /tmp/w --baseline-tree /tmp/old

Each process opens the library, runs `expanded_search` for the topic (k=150, as the workflow
asks; as of 2025-09-30, 18,629 papers of the corpus, as bench/retrieval.py searches as of the
human survey) once cold and `--warm` times more. Processes alternate between two ways of
getting the stop-word list: `file` (what the phrase mining uses: scikit-learn's list read from
its own module file, retriever/stop_words.py) and `sklearn_import` (the public import, which
loads scikit-learn, scipy and pandas), and with `--baseline-tree` a third, `baseline`: the
retriever/ package of that folder (e.g. an older commit's) instead of this checkout's; a change
of machine load hits them alike. All must mine the same queries (`same_queries`).

Prints progress to stderr and one JSON object on the last line of stdout: per way, the medians
over its processes of `ready_s` (from launching the process to its imports done: interpreter and
imports), `first_s` (the first call), `warm_s` (the median warm call), the same two in CPU
seconds of the process (`first_cpu_s`, `warm_cpu_s`: steadier than wall time on shared cores),
with every process's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPIC = "Reinforcement Learning for Large Language Models"
K = 150
DATE_TO = date(2025, 9, 30)
WAYS = ("file", "sklearn_import", "baseline")


def child(workdir: Path, way: str, warm: int, launched: float, tree: Path) -> dict:
    """One process's figures (run with --child): imports, opening, first and warm calls,
    with the retriever package of `tree`."""
    sys.path.insert(0, str(tree))
    from retriever.expansion import expanded_search
    from retriever.library import Library
    from retriever.types import SearchFilters

    if way == "sklearn_import":
        from retriever import stop_words

        stop_words._list_file = lambda: None  # the reference way: the public import
    ready = time.time() - launched
    library = Library.open(
        workdir / "papers.sqlite", workdir / "index", backend="onnx", cache_dir=workdir / "models", index_type="flat"
    )
    filters = SearchFilters(date_to=DATE_TO)
    times, cpu = [], []
    for _ in range(1 + warm):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = expanded_search(library, TOPIC, k=K, filters=filters)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return {
        "way": way,
        "ready_s": round(ready, 3),
        "first_s": round(times[0], 3),
        "warm_s": [round(t, 3) for t in times[1:]],
        "first_cpu_s": round(cpu[0], 3),
        "warm_cpu_s": [round(t, 3) for t in cpu[1:]],
        "mined_queries": result.mined_queries,
    }


def run_process(workdir: Path, way: str, warm: int, tree: Path) -> dict:
    """One fresh process's figures for `way`, importing the retriever package of `tree`."""
    command = [sys.executable, __file__, "--child", way, "--workdir", str(workdir), "--warm", str(warm)]
    command += ["--tree", str(tree), "--launched", repr(time.time())]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {way} process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(runs: list[dict]) -> dict:
    """Medians of one way's processes."""
    warm = [statistics.median(r["warm_s"]) for r in runs if r["warm_s"]]
    warm_cpu = [statistics.median(r["warm_cpu_s"]) for r in runs if r["warm_cpu_s"]]
    return {
        "ready_s": round(statistics.median(r["ready_s"] for r in runs), 3),
        "first_s": round(statistics.median(r["first_s"] for r in runs), 3),
        "warm_s": round(statistics.median(warm), 3) if warm else None,
        "first_cpu_s": round(statistics.median(r["first_cpu_s"] for r in runs), 3),
        "warm_cpu_s": round(statistics.median(warm_cpu), 3) if warm_cpu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True, help="a workdir of bench/retrieval.py with the corpus embedded")
    parser.add_argument("--processes", type=int, default=3, help="fresh processes per way")
    parser.add_argument("--warm", type=int, default=3, help="warm calls per process after the first")
    parser.add_argument(
        "--baseline-tree", type=Path, default=None, help="a folder holding another retriever/ package to compare with"
    )
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--launched", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = Path(args.workdir)
    if args.child:
        print(json.dumps(child(workdir, args.child, args.warm, args.launched, args.tree)))
        return
    if not (workdir / "index" / "papers.faiss").is_file():
        raise SystemExit(f"{workdir} holds no built library; run bench/retrieval.py --workdir {workdir} first")
    baseline = args.baseline_tree
    if baseline is not None and not (baseline / "retriever" / "expansion.py").is_file():
        raise SystemExit(f"{baseline} holds no retriever/; e.g. git archive REV retriever | tar -x -C {baseline}")
    trees = {"file": ROOT, "sklearn_import": ROOT, **({"baseline": baseline.resolve()} if baseline else {})}
    started = datetime.now(UTC).isoformat(timespec="seconds")
    runs: dict[str, list[dict]] = {way: [] for way in trees}
    for number in range(args.processes):
        for way, tree in trees.items():
            runs[way].append(run_process(workdir, way, args.warm, tree))
            last = runs[way][-1]
            print(
                f"[{number + 1}/{args.processes}] {way}: first {last['first_s']} s (load {os.getloadavg()[0]:.1f})",
                file=sys.stderr,
                flush=True,
            )
    queries = {way: {tuple(r["mined_queries"]) for r in found} for way, found in runs.items()}
    result = {
        **{way: summary(found) for way, found in runs.items()},
        "same_queries": len(set().union(*queries.values())) == 1,
        "mined_queries": runs["file"][0]["mined_queries"],
        "processes": runs,
        "started": started,
        "load_avg_at_end": round(os.getloadavg()[0], 2),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.python_version()}",
        "command": "bench/expansion_latency.py " + " ".join(sys.argv[1:]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
