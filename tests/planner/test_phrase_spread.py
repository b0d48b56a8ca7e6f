"""How evenly phrases spread over a library's topics (planner/phrase_spread.py): the
evenness formula on hand-made counts with exact values, and a real paper store of two
clearly separated topics."""

from __future__ import annotations

import numpy as np
import pytest

from planner.phrase_spread import MIN_HOLDERS, LibrarySpread, evenness, library_spread, relative_evenness
from retriever.store import PaperStore
from retriever.types import Paper


def test_evenness_is_the_effective_share_of_groups_at_equal_rates():
    assert evenness(np.array([5, 5, 5, 5]), np.array([10, 10, 10, 10])) == pytest.approx(1.0)
    assert evenness(np.array([8, 0, 0, 0]), np.array([10, 10, 10, 10])) == pytest.approx(0.25)
    assert evenness(np.array([2, 2, 0, 0]), np.array([10, 10, 10, 10])) == pytest.approx(0.5)
    # rates, not counts: 10 of 20 and 5 of 10 are the same rate
    assert evenness(np.array([10, 5]), np.array([20, 10])) == pytest.approx(1.0)
    assert evenness(np.zeros(3), np.ones(3)) == 0.0


def test_relative_evenness_needs_enough_holders():
    labels = np.repeat(np.arange(2), 50)
    assert relative_evenness(labels, np.arange(MIN_HOLDERS - 1), 2) is None
    gathered = relative_evenness(labels, np.arange(40), 2)  # all in group 0: 0.5 against about 1.0
    assert gathered is not None and 0.48 <= gathered <= 0.52
    spread = relative_evenness(labels, np.arange(0, 100, 2), 2)  # every other row: both groups alike
    assert spread is not None and spread >= 0.99


def _store(tmp_path) -> PaperStore:
    """80 papers: 40 on reward models (one direction), 40 on speech (another); every
    abstract mentions future research."""
    store = PaperStore(tmp_path / "papers.sqlite")
    papers = [
        Paper(
            arxiv_id=f"2501.{i:05d}",
            title=f"Paper {i}",
            abstract=("Reward models score answers." if i < 40 else "Speech recognition in noise.")
            + " Future research is needed.",
        )
        for i in range(80)
    ]
    with store.transaction():
        store.upsert(papers)
    rowids = store.rowids([p.arxiv_id for p in papers])
    vectors = np.zeros((80, 4), dtype=np.float32)
    vectors[:40, 0] = 1.0
    vectors[40:, 1] = 1.0
    store.save_embeddings("toy", [rowids[p.arxiv_id] for p in papers], vectors)
    return store


def test_a_library_spread_tells_boilerplate_from_a_theme(tmp_path):
    store = _store(tmp_path)
    assert len(store.phrase_rowids("reward models")) == 40 and len(store.phrase_rowids("")) == 0
    spread = LibrarySpread(store, "toy", groups=2)
    future, reward, speech, rare = spread(["future research", "reward models", "speech recognition", "paper 1"])
    assert future is not None and future >= 0.99  # in every paper of both topics
    assert reward is not None and 0.48 <= reward <= 0.52  # all in one of the two topics
    assert speech == reward
    assert rare is None  # "paper 1" is in 11 papers (1, 10-19): too few to tell


def test_only_a_library_with_a_store_has_a_spread(tmp_path):
    class Library:
        def __init__(self, store):
            self.store, self.model_name = store, "toy"

    assert isinstance(library_spread(Library(_store(tmp_path))), LibrarySpread)
    assert library_spread(object()) is None

    class Wrapper:
        def phrase_spread(self, phrases):
            return [None] * len(phrases)

    wrapper = Wrapper()
    assert library_spread(wrapper) == wrapper.phrase_spread
