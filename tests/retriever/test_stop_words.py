"""The stop-word list read from scikit-learn's file is its public list, and reading it
loads no part of scikit-learn, scipy or pandas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from retriever import stop_words
from retriever.stop_words import english_stop_words, imported_stop_words

ROOT = Path(__file__).resolve().parents[2]


def test_the_list_read_from_the_file_is_the_public_list():
    words = english_stop_words()
    assert words == imported_stop_words()
    assert len(words) == 318 and {"the", "of", "and", "we"} <= words


def test_reading_the_list_imports_no_heavy_package():
    code = (
        "import json, sys; from retriever.stop_words import english_stop_words; "
        "words = english_stop_words(); "
        "print(json.dumps([len(words), sorted(m for m in ('sklearn', 'scipy', 'pandas') if m in sys.modules)]))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [318, []]


def test_without_the_file_the_public_import_gives_the_list(monkeypatch):
    monkeypatch.setattr(stop_words, "_list_file", lambda: None)
    stop_words.english_stop_words.cache_clear()
    try:
        assert stop_words.english_stop_words() == imported_stop_words()
    finally:
        stop_words.english_stop_words.cache_clear()


def test_the_file_is_found_without_importing_scikit_learn():
    path = stop_words._list_file()
    assert path is not None and path.name == "_stop_words.py" and path.parent.name == "feature_extraction"
