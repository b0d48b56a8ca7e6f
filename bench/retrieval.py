"""Retrieval benchmark: ingest, embed, index and search the 46,670-paper arXiv corpus.

    .venv/bin/python bench/retrieval.py                 # the whole corpus (~15+ min on 2 cores)
    .venv/bin/python bench/retrieval.py --limit 3000    # a quick partial run
    .venv/bin/python bench/retrieval.py --levers 384    # embedding speed levers against the reference
    .venv/bin/python bench/retrieval.py --workdir DIR --recall-only  # recall figures of a built library only

Prints progress to stderr and one JSON object on the last line of stdout.

reference_recall: the share of the papers that the human survey "Reinforcement Learning
for Large Language Models" (surveybench) cites and that are in the corpus, found in our
top 200. The queries are the topic's name and the queries `retriever.expansion` mines from
the topic search's own first hits (no hand-written list); `reference_search.queries` in the JSON
line shows them. The headline is `reference_recall_as_of_survey`: searching as of the
survey's date, as its authors could have. `check_topics` holds the same for the other
surveybench topics whose references are in the corpus.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import random
import re
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retriever.bm25 import Bm25Matrix  # noqa: E402
from retriever.embeddings import DEFAULT_MAX_SEQ_LENGTH, load_embedder  # noqa: E402
from retriever.expansion import ExpandedSearch, ExpansionSettings, expanded_search, mine_queries  # noqa: E402
from retriever.fusion import reciprocal_rank_fusion  # noqa: E402
from retriever.index import VectorIndex  # noqa: E402
from retriever.library import Library  # noqa: E402
from retriever.store import PaperStore, paper_text  # noqa: E402
from retriever.types import Paper, SearchFilters  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
CORPUS = SHARED / "arxiv" / "arxiv_cs_CL_LG_AI_2025-03_2026-07.jsonl.gz"
CITED = SHARED / "surveybench" / "human_survey_cited_arxiv_ids.json"
TOPIC = "Reinforcement Learning for Large Language Models"
TOP = 200
FILTERS = SearchFilters(date_from=date(2025, 9, 1), categories=("cs.CL", "cs.AI"))
SURVEY_DATE_TO = date(2025, 9, 30)  # the human survey on TOPIC is arXiv 2509.08827


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message} (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)


def first_lines(path: Path, limit: int | None, out: Path) -> Path:
    """The corpus, or its first `limit` lines as a new file."""
    if limit is None:
        return path
    with gzip.open(path, "rt", encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for number, line in enumerate(src):
            if number >= limit:
                break
            dst.write(line)
    return out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def recall_at(ids: list[str], relevant: set[str]) -> float:
    return len(set(ids) & relevant) / len(relevant) if relevant else float("nan")


def cited_in_corpus(library: Library, topic: str = TOPIC) -> set[str]:
    """The arXiv ids the human survey on `topic` cites that the library holds."""
    cited_raw = json.loads(CITED.read_text())[topic]["cited_arxiv_ids"]
    cited = set(json.loads(cited_raw.replace("'", '"')) if isinstance(cited_raw, str) else cited_raw)
    return {p.arxiv_id for p in library.get(sorted(cited))}


def _expanded(library: Library, filters: SearchFilters | None, topic: str = TOPIC, **settings) -> ExpandedSearch:
    """`expanded_search` for `topic` at depth TOP, with `settings` changed from the defaults."""
    return expanded_search(library, topic, k=TOP, filters=filters, settings=ExpansionSettings(**settings))


def _figures(search: ExpandedSearch) -> dict:
    return {
        "rounds": [
            {
                "name": r.name,
                "queries": len(r.queries),
                "hits": r.hits,
                "new_papers": r.new_papers,
                "s": round(r.seconds, 2),
            }
            for r in search.rounds
        ],
        "queries": search.queries,
    }


def _hit_ids(search: ExpandedSearch) -> list[str]:
    return [h.paper.arxiv_id for h in search.hits]


# what round 2 of the expansion used before query-by-paper (bench/RESULTS.md compares them)
PLAIN_ROUND_2 = {"paper_queries": 0, "feedback_papers": 0}
FEEDBACK_ROUND_2 = {"paper_queries": 0, "feedback_papers": 20}


def reference_recall(library: Library) -> dict:
    """Recall of the human survey's in-corpus citations in our top 200, several ways; every
    expanded search is `retriever.expansion.expanded_search` on the topic alone, with its
    default settings unless the key says otherwise: `plain_round2` without query-by-paper
    or feedback, `feedback20` with the dense feedback of 20 papers instead of query-by-paper."""
    in_corpus = cited_in_corpus(library)
    store = library.store
    bm25_ids = [p.arxiv_id for p in store.get_by_rowids(library.bm25(TOPIC, TOP)).values()]
    dense_rows = library._dense([TOPIC], TOP, None)[0][0]
    dense_ids = [p.arxiv_id for p in store.get_by_rowids(dense_rows).values()]
    hybrid_topic = [h.paper.arxiv_id for h in library.search(TOPIC, k=TOP)]
    expanded = _expanded(library, None)
    queries = expanded.queries
    fused = {
        name: [store.get_by_rowids([f.key])[f.key].arxiv_id for f in reciprocal_rank_fusion(runs, library.rrf_k)[:TOP]]
        for name, runs in (
            ("bm25", [("bm25", library.bm25(q, TOP)) for q in queries]),
            ("dense", [("dense", ids) for ids in library._dense(queries, TOP, None)[0]]),
        )
    }
    # as of the survey: it is arXiv 2509.08827, so no paper listed after September 2025 can be
    # among its references; the search gets the date filter a user writing it then would set
    as_of = SearchFilters(date_to=SURVEY_DATE_TO)
    in_corpus_as_of = {p.arxiv_id for p in library.get(sorted(in_corpus)) if as_of.accepts(p)}
    expanded_as_of = _expanded(library, as_of)
    topic_as_of = [h.paper.arxiv_id for h in library.search(TOPIC, k=TOP, filters=as_of)]
    plain = _expanded(library, None, **PLAIN_ROUND_2)
    plain_as_of = _expanded(library, as_of, **PLAIN_ROUND_2)
    feedback_as_of = _expanded(library, as_of, **FEEDBACK_ROUND_2)
    return {
        "in_corpus_cited": len(in_corpus),
        "reference_recall": recall_at(_hit_ids(expanded), in_corpus),
        "reference_recall_bm25_expanded": recall_at(fused["bm25"], in_corpus),
        "reference_recall_dense_expanded": recall_at(fused["dense"], in_corpus),
        "reference_recall_as_of_survey": recall_at(_hit_ids(expanded_as_of), in_corpus_as_of),
        "reference_found_as_of_survey": len(set(_hit_ids(expanded_as_of)) & in_corpus_as_of),
        "reference_recall_topic_only_as_of_survey": recall_at(topic_as_of, in_corpus_as_of),
        "reference_recall_plain_round2": recall_at(_hit_ids(plain), in_corpus),
        "reference_recall_plain_round2_as_of_survey": recall_at(_hit_ids(plain_as_of), in_corpus_as_of),
        "reference_recall_feedback20_as_of_survey": recall_at(_hit_ids(feedback_as_of), in_corpus_as_of),
        "in_corpus_cited_as_of_survey": len(in_corpus_as_of),
        "papers_as_of_survey": len(library.store.filter_rowids(as_of)),
        "reference_recall_topic_only": recall_at(hybrid_topic, in_corpus),
        "reference_recall_bm25_topic": recall_at(bm25_ids, in_corpus),
        "reference_recall_dense_topic": recall_at(dense_ids, in_corpus),
        "reference_search": _figures(expanded),
        "reference_search_as_of_survey": _figures(expanded_as_of),
        "check_topics": [check_topic_recall(library, topic, date_to) for topic, date_to in CHECK_TOPICS],
    }


# Checks that the expansion's settings are not fitted to TOPIC alone: the other surveybench
# topics whose human surveys cite papers of this corpus (Scientific LLMs 43, Safety 5; the
# other twelve surveys predate the corpus and cite none of it). Each date bound is the end of
# the month of the survey's newest in-corpus reference (2508.15763, 2504.17704).
CHECK_TOPICS = (
    ("Scientific Large Language Models", date(2025, 8, 31)),
    ("Safety in Large Language Models", date(2025, 4, 30)),
)


def check_topic_recall(library: Library, topic: str, date_to: date) -> dict:
    """Recall at TOP of `topic`'s in-corpus references as of `date_to`: topic alone,
    expanded (the defaults), expanded with a plain round 2, and with feedback 20 instead of
    query-by-paper; the references found of each, and the queries searched."""
    as_of = SearchFilters(date_to=date_to)
    relevant = {p.arxiv_id for p in library.get(sorted(cited_in_corpus(library, topic))) if as_of.accepts(p)}
    topic_only = [h.paper.arxiv_id for h in library.search(topic, k=TOP, filters=as_of)]
    expanded = _expanded(library, as_of, topic)
    lists = {
        "topic_only": topic_only,
        "expanded": _hit_ids(expanded),
        "plain_round2": _hit_ids(_expanded(library, as_of, topic, **PLAIN_ROUND_2)),
        "feedback20": _hit_ids(_expanded(library, as_of, topic, **FEEDBACK_ROUND_2)),
    }
    return {
        "topic": topic,
        "date_to": date_to.isoformat(),
        "cited_as_of": len(relevant),
        **{f"recall_{name}": round(recall_at(ids, relevant), 4) for name, ids in lists.items()},
        **{f"found_{name}": len(set(ids) & relevant) for name, ids in lists.items()},
        "queries": expanded.queries,
        "expanded_s": [round(r.seconds, 2) for r in expanded.rounds],
    }


class BenchState:
    """Figures of a corpus run kept in its workdir, so a resumed run (ingest done, embedding
    part done) reports the whole: ingest time of the run that ingested, embedding papers and
    seconds summed over every committed chunk of every run. Written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict = json.loads(path.read_text()) if path.exists() else {}

    def add(self, **values) -> None:
        for key, value in values.items():
            self.data[key] = self.data.get(key, [] if isinstance(value, list) else 0) + value
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        os.replace(tmp, self.path)


def run_corpus(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cpmsurvey-bench-"))
    corpus = first_lines(CORPUS, args.limit, workdir / "corpus.jsonl")
    library = Library.open(
        workdir / "papers.sqlite",
        workdir / "index",
        backend=args.backend,
        cache_dir=workdir / "models",
        max_seq_length=args.max_seq_length,
        batch_size=args.batch_size,
        index_type="flat",
    )
    state = BenchState(workdir / "bench_state.json")
    log(f"ingesting {corpus} into {workdir}")
    started = time.perf_counter()
    report = library.ingest_jsonl(corpus)
    if not report.skipped_complete:  # a resumed run keeps the first run's ingest time
        state.add(ingest_s=time.perf_counter() - started)
    log(report.summary())
    embedder = library.embedder  # load (and export, first time) outside the timed embedding
    log(f"embedding with {embedder.backend} (max {args.max_seq_length} tokens)")

    def on_chunk(count: int, seconds: float) -> None:
        state.add(embedded=count, embed_s=seconds, loads=[round(os.getloadavg()[0], 2)])

    update = library.update_index(show_progress=True, on_chunk=on_chunk)
    log(update.summary())
    papers = library.store.count()
    if args.recall_only:
        started = time.perf_counter()
        recall = reference_recall(library)
        return {
            "papers": papers,
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in recall.items()},
            "recall_s": round(time.perf_counter() - started, 1),
            "load_avg_at_end": round(os.getloadavg()[0], 2),
        }

    rng = random.Random(0)
    sample = rng.sample(range(papers), min(200, papers))
    all_papers = list(library.store.iter_papers())
    queries = [all_papers[i].title for i in sample]

    # approximate (HNSW) against exact (flat) search, on the stored embeddings
    ids, vectors = library.store.embeddings(library.model_name)
    started = time.perf_counter()  # timed apart from update_index, which a resumed run may skip
    VectorIndex.build(library.model_name, "bench", ids, vectors, "flat")
    flat_build_s = time.perf_counter() - started
    started = time.perf_counter()
    hnsw = VectorIndex.build(library.model_name, "bench", ids, vectors, "hnsw")
    hnsw_build_s = time.perf_counter() - started
    exact = library._loaded_index()
    query_vectors = embedder.encode(queries)
    _, want = exact.search(query_vectors, 10)
    _, got = hnsw.search(query_vectors, 10)
    ann_recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(want, got, strict=True)]))

    started = time.perf_counter()  # the BM25 term matrix, timed apart from update_index as well
    Bm25Matrix.build(library.store)
    bm25_build_s = time.perf_counter() - started
    bm25 = _bm25_against_fts5(library, queries)

    for query in queries[:20]:  # warm caches
        library.search(query, k=20)
    latencies = []
    for query in queries:
        started = time.perf_counter()
        library.search(query, k=20)
        latencies.append((time.perf_counter() - started) * 1000)
    filtered_ms = []
    for query in queries[:50]:  # the same queries with a date and category filter
        started = time.perf_counter()
        library.search(query, k=20, filters=FILTERS)
        filtered_ms.append((time.perf_counter() - started) * 1000)
    recall = reference_recall(library)
    return {
        "papers": papers,
        "ingest_s": round(state.data.get("ingest_s", 0.0), 2),
        "embed_papers_per_s": round(state.data["embedded"] / state.data["embed_s"], 2)
        if state.data.get("embedded")
        else None,
        "embed_s": round(state.data.get("embed_s", 0.0), 1),
        "embedded_papers_timed": state.data.get("embedded", 0),
        "load_avg_per_embed_chunk": state.data.get("loads", []),
        "embedding_backend": embedder.backend,
        "max_seq_length": args.max_seq_length,
        "index_build_s": round(flat_build_s, 3),
        "index_type": update.index_type,
        "hnsw_build_s": round(hnsw_build_s, 2),
        "query_p50_ms": round(percentile(latencies, 50), 2),
        "query_p95_ms": round(percentile(latencies, 95), 2),
        "query_filtered_p50_ms": round(percentile(filtered_ms, 50), 2),
        "query_filtered_p95_ms": round(percentile(filtered_ms, 95), 2),
        "query_filter": repr(FILTERS),
        "ann_recall_at_10": round(ann_recall, 4),
        "bm25_build_s": round(bm25_build_s, 1),
        **bm25,
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in recall.items()},
        "load_avg_at_end": round(os.getloadavg()[0], 2),
    }


def _bm25_against_fts5(library: Library, queries: list[str], depth: int = 100) -> dict:
    """BM25 from the term matrix (what search uses) against FTS5's bm25() (the reference) on
    the same queries: latency of each, interleaved per query, and whether the rankings agree."""
    for query in queries[:20]:
        library.bm25(query, depth)
    matrix_ms, fts5_ms, identical = [], [], 0
    for query in queries:
        started = time.perf_counter()
        fast = library.bm25(query, depth)
        matrix_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        reference = library.store.bm25(query, depth)
        fts5_ms.append((time.perf_counter() - started) * 1000)
        identical += fast == reference
    return {
        "bm25_matrix_p50_ms": round(percentile(matrix_ms, 50), 2),
        "bm25_matrix_p95_ms": round(percentile(matrix_ms, 95), 2),
        "bm25_fts5_p50_ms": round(percentile(fts5_ms, 50), 2),
        "bm25_fts5_p95_ms": round(percentile(fts5_ms, 95), 2),
        "bm25_rankings_identical": f"{identical}/{len(queries)} (top {depth})",
    }


def run_levers(args: argparse.Namespace) -> dict:
    """Papers/s and fidelity of each embedding lever on `args.levers` real papers.

    The levers are timed interleaved (each round runs every lever once; the median of the
    rounds is reported), so a change of machine load during the run hits them alike."""
    with gzip.open(CORPUS, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for _, line in zip(range(args.levers * 7), handle, strict=False)][::7]
    texts = [paper_text(" ".join(r["title"].split()), " ".join(r["abstract"].split())) for r in records]
    cache = Path(args.workdir or tempfile.mkdtemp(prefix="cpmsurvey-levers-")) / "models"
    int8_256 = load_embedder(backend="onnx", cache_dir=cache, batch_size=args.batch_size, max_seq_length=256)
    levers = {
        "torch_st_default_256": (load_embedder(backend="torch", max_seq_length=256), False),
        "torch_st_128": (load_embedder(backend="torch", max_seq_length=128), False),
        "onnx_fp32_256": (
            load_embedder(
                backend="onnx", cache_dir=cache, batch_size=args.batch_size, max_seq_length=256, quantize=False
            ),
            False,
        ),
        "onnx_int8_256_unsorted": (int8_256, True),
        "onnx_int8_256": (int8_256, False),
        "onnx_int8_128": (
            load_embedder(backend="onnx", cache_dir=cache, batch_size=args.batch_size, max_seq_length=128),
            False,
        ),
    }
    rates: dict[str, list[float]] = {name: [] for name in levers}
    vectors: dict[str, np.ndarray] = {}
    for embedder, _ in levers.values():
        embedder.encode(texts[:8])  # warm
    for round_number in range(args.rounds):
        for name, (embedder, unsorted) in levers.items():
            started = time.perf_counter()
            vectors[name] = _unsorted(embedder, texts) if unsorted else embedder.encode(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
        log(f"round {round_number + 1}: " + ", ".join(f"{n} {r[-1]:.2f}/s" for n, r in rates.items()))
    reference = vectors["torch_st_default_256"]
    reference_top = _neighbours(reference, min(64, len(texts)))
    base = float(np.median(rates["torch_st_default_256"]))
    results: dict[str, dict] = {}
    for name, found in vectors.items():
        cosine = (found * reference).sum(axis=1)
        top = _neighbours(found, min(64, len(texts)))
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, reference_top, strict=True)])
        median = float(np.median(rates[name]))
        results[name] = {
            "papers_per_s": round(median, 2),
            "speedup": round(median / base, 2),
            "cosine_min": round(float(cosine.min()), 4),
            "cosine_mean": round(float(cosine.mean()), 4),
            "top10_overlap_with_reference": round(float(overlap), 4),
        }
    return {"papers": len(texts), "rounds": args.rounds, "levers": results, "load_avg_at_end": os.getloadavg()[0]}


def _unsorted(embedder, texts: list[str]) -> np.ndarray:
    """Embed in corpus order, one batch at a time, so no batch is length-sorted."""
    size = getattr(embedder, "batch_size", 64)
    return np.concatenate([embedder.encode(texts[i : i + size]) for i in range(0, len(texts), size)])


def _neighbours(vectors: np.ndarray, count: int) -> np.ndarray:
    """Top 10 rows for each of the first `count` rows used as a query (itself excluded)."""
    scores = vectors[:count] @ vectors.T
    np.fill_diagonal(scores[:, :count], -np.inf)
    return np.argsort(-scores, axis=1)[:, :10]


# --- quality of the embedding levers -------------------------------------------------------

DEEPSCHOLAR = SHARED / "deepscholar" / "citations.csv"
_ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5})")
QUALITY_LEVERS = {  # name: (backend, max_seq_length)
    "torch_256": ("torch", 256),
    "int8_256": ("onnx", 256),
    "int8_128": ("onnx", 128),
    "int8_112": ("onnx", 112),
    "int8_96": ("onnx", 96),
}


def deepscholar_pairs() -> tuple[dict[str, Paper], dict[str, Paper], dict[str, set[str]]]:
    """DeepScholar-Bench: its parent papers (queries), the arXiv papers they cite that come
    with a title and abstract (relevant), and parent id -> cited ids. Few of the cited papers
    fall in our 2025-03.. corpus (3 of 889), so the cited papers are added to the slice."""
    parents: dict[str, Paper] = {}
    cited: dict[str, Paper] = {}
    links: dict[str, set[str]] = {}
    with DEEPSCHOLAR.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            child = _ARXIV_ID.search(row.get("cited_paper_arxiv_link") or "")
            parent = _ARXIV_ID.search(row["parent_paper_arxiv_id"] or "")
            abstract = " ".join((row.get("cited_paper_abstract") or "").split())
            if not child or not parent or not abstract:
                continue
            cited[child.group(1)] = Paper(child.group(1), " ".join(row["cited_paper_title"].split()), abstract)
            links.setdefault(parent.group(1), set()).add(child.group(1))
    with (SHARED / "deepscholar" / "papers.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            pid = _ARXIV_ID.search(row["arxiv_id"]).group(1)
            if pid in links:
                parents[pid] = Paper(pid, " ".join(row["title"].split()), " ".join(row["abstract"].split()))
    links = {p: c - {p} for p, c in links.items() if p in parents and len(c - {p}) >= 2}
    return parents, cited, links


def run_quality(args: argparse.Namespace) -> dict:
    """Retrieval quality and speed of each embedding lever on one fixed corpus slice.

    Slice: the surveybench topic's in-corpus cited papers, DeepScholar's cited arXiv papers,
    and `args.quality` random corpus papers (seed 0) as distractors; the same for every
    lever. Speed: the slice is embedded in chunks, every lever in turn per chunk (ratios, not
    absolutes, on a shared machine)."""
    cited_raw = json.loads(CITED.read_text())[TOPIC]["cited_arxiv_ids"]
    survey_cited = set(json.loads(cited_raw.replace("'", '"')) if isinstance(cited_raw, str) else cited_raw)
    with gzip.open(CORPUS, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    rng = random.Random(0)
    chosen = [r for r in records if r["id"] in survey_cited]
    in_corpus = {r["id"] for r in chosen}
    rest = [r for r in records if r["id"] not in survey_cited]
    chosen += rng.sample(rest, args.quality)
    papers = {r["id"]: Paper(r["id"], " ".join(r["title"].split()), " ".join(r["abstract"].split())) for r in chosen}
    parents, ds_cited, links = deepscholar_pairs()
    for pid, paper in ds_cited.items():
        papers.setdefault(pid, paper)
    workdir = Path(tempfile.mkdtemp(prefix="cpmsurvey-quality-"))
    store = PaperStore(workdir / "slice.sqlite")
    store.upsert(papers.values())
    ids = list(papers)
    rowid_of = {p.arxiv_id: r for r, p in store.get_by_rowids(range(1, len(ids) + 10)).items()}
    row_ids = np.array([rowid_of[i] for i in ids])
    texts = [paper_text(p.title, p.abstract) for p in papers.values()]
    order = rng.sample(range(len(texts)), len(texts))  # chunks mix the slice's sources
    cache = Path(args.workdir or workdir) / "models"
    embedders = {
        name: load_embedder(backend=b, cache_dir=cache, batch_size=args.batch_size, max_seq_length=n)
        for name, (b, n) in QUALITY_LEVERS.items()
    }
    vectors = {name: np.zeros((len(texts), 384), dtype=np.float32) for name in embedders}
    seconds = dict.fromkeys(embedders, 0.0)
    loads = []
    for e in embedders.values():
        e.encode(texts[:8])
    chunk = 128
    for start in range(0, len(order), chunk):
        rows = order[start : start + chunk]
        loads.append(os.getloadavg()[0])
        for name, embedder in embedders.items():
            started = time.perf_counter()
            vectors[name][rows] = embedder.encode([texts[i] for i in rows])
            seconds[name] += time.perf_counter() - started
        log(
            f"embedded {min(start + chunk, len(order))}/{len(order)}: "
            + ", ".join(f"{n} {(min(start + chunk, len(order))) / s:.1f}/s" for n, s in seconds.items())
        )
    ref_rate = len(texts) / seconds["torch_256"]
    survey_queries = _slice_queries(store, row_ids, vectors["torch_256"])
    bm25_survey = [store.bm25(q, TOP) for q in survey_queries]
    ds_parents = sorted(links)
    ds_queries = [paper_text(parents[p].title, parents[p].abstract) for p in ds_parents]
    bm25_ds = [store.bm25(q, DS_TOP + 1) for q in ds_queries]
    arxiv_of_row = dict(zip(row_ids.tolist(), ids, strict=True))
    results = {}
    for name, embedder in embedders.items():
        matrix = vectors[name]

        def dense(queries: list[str], depth: int, matrix=matrix, embedder=embedder) -> list[list[int]]:
            scores = embedder.encode(queries) @ matrix.T
            return [row_ids[np.argsort(-s, kind="stable")[:depth]].tolist() for s in scores]

        dense_survey = dense(survey_queries, TOP)
        survey_dense = _ids(reciprocal_rank_fusion([("dense", d) for d in dense_survey]), arxiv_of_row, TOP)
        survey_hybrid = _ids(
            reciprocal_rank_fusion([("bm25", b) for b in bm25_survey] + [("dense", d) for d in dense_survey]),
            arxiv_of_row,
            TOP,
        )
        dense_ds = dense(ds_queries, DS_TOP + 1)
        ds_dense, ds_hybrid = [], []
        for parent, d, b in zip(ds_parents, dense_ds, bm25_ds, strict=True):
            relevant = links[parent]
            found_d = [arxiv_of_row[k] for k in d if arxiv_of_row[k] != parent]
            fused = reciprocal_rank_fusion([("dense", d), ("bm25", b)])
            found_h = [i for i in _ids(fused, arxiv_of_row, DS_TOP + 1) if i != parent]
            ds_dense.append(recall_at(found_d[:DS_TOP], relevant))
            ds_hybrid.append(recall_at(found_h[:DS_TOP], relevant))
        results[name] = {
            "papers_per_s": round(len(texts) / seconds[name], 2),
            "speedup_vs_torch_256": round(len(texts) / seconds[name] / ref_rate, 2),
            "reference_recall_dense": round(recall_at(survey_dense, in_corpus), 4),
            "reference_recall_hybrid": round(recall_at(survey_hybrid, in_corpus), 4),
            f"deepscholar_recall_at_{DS_TOP}_dense": round(float(np.mean(ds_dense)), 4),
            f"deepscholar_recall_at_{DS_TOP}_hybrid": round(float(np.mean(ds_hybrid)), 4),
        }
    store.close()
    return {
        "slice_papers": len(texts),
        "survey_cited_in_slice": len(in_corpus),
        "deepscholar_queries": len(ds_parents),
        "deepscholar_cited": sum(len(v) for v in links.values()),
        "distractors": args.quality,
        "reference_recall_bm25": round(
            recall_at(_ids(reciprocal_rank_fusion([("bm25", b) for b in bm25_survey]), arxiv_of_row, TOP), in_corpus), 4
        ),
        "levers": results,
        "load_avg_per_chunk": [round(x, 2) for x in loads],
    }


DS_TOP = 50


def _slice_queries(store: PaperStore, row_ids: np.ndarray, vectors: np.ndarray) -> list[str]:
    """TOPIC and the queries `mine_queries` mines from the slice's BM25 hits for it (the
    reference lever's vectors group the seeds; phrases contrasted with the slice), the same
    for every lever."""
    settings = ExpansionSettings()
    position = {int(row): i for i, row in enumerate(row_ids.tolist())}
    hits = store.bm25(TOPIC, settings.seed_papers + settings.background_papers)
    papers = store.get_by_rowids(hits)
    seeds, background = hits[: settings.seed_papers], hits[settings.seed_papers :]
    total = store.count()
    mined, _ = mine_queries(
        TOPIC,
        [papers[r] for r in seeds],
        [papers[r] for r in background],
        vectors[[position[r] for r in seeds]],
        settings,
        corpus_share=lambda phrases: [count / total for count in store.phrase_counts(phrases)],
    )
    return [TOPIC, *(f"{TOPIC} {q}" if settings.anchor_queries else q for q in mined)]


def _ids(fused, arxiv_of_row: dict[int, str], limit: int) -> list[str]:
    """Arxiv ids of the first `limit` entries of a fused list."""
    return [arxiv_of_row[f.key] for f in fused[:limit]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="only the corpus's first N papers")
    parser.add_argument("--levers", type=int, default=None, help="measure embedding levers on N papers instead")
    parser.add_argument(
        "--quality", type=int, default=None, help="recall and speed of embedding levers on a slice with N distractors"
    )
    parser.add_argument("--rounds", type=int, default=3, help="with --levers: interleaved timing rounds")
    parser.add_argument("--backend", default="onnx", choices=["onnx", "torch"])
    parser.add_argument("--max-seq-length", type=int, default=DEFAULT_MAX_SEQ_LENGTH)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workdir", default=None, help="keep the store, index and ONNX export here")
    parser.add_argument(
        "--recall-only", action="store_true", help="the corpus run's recall figures only (no latency or index builds)"
    )
    args = parser.parse_args()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    result = run_quality(args) if args.quality else run_levers(args) if args.levers else run_corpus(args)
    result.update(
        started=started,
        machine=f"{platform.machine()} {os.cpu_count()} cpus, {platform.python_version()}",
        command="bench/retrieval.py " + " ".join(sys.argv[1:]),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
