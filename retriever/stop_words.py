"""English stop words: scikit-learn's list (the Glasgow Information Retrieval Group's 318
words), without importing scikit-learn.

The list lives in one plain module of scikit-learn, `sklearn/feature_extraction/_stop_words.py`,
that imports nothing. Importing it by name runs scikit-learn's package `__init__`, which
loads scipy and pandas: seconds on the first search of every process. So the module's file
is found without importing its package and run alone. Where that file is missing (a future
scikit-learn that moves it), the public import is the fallback, slow but the same list;
`imported_stop_words` is that reference, and the tests compare the two.

Public: `english_stop_words`, `imported_stop_words`.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

# where scikit-learn keeps the list, relative to its package folder (since 0.22)
_LIST_FILE = Path("feature_extraction") / "_stop_words.py"


@cache
def english_stop_words() -> frozenset[str]:
    """scikit-learn's English stop words, read from their own module file (module docstring);
    the public import where that file cannot be found."""
    path = _list_file()
    if path is None:
        return imported_stop_words()
    spec = importlib.util.spec_from_file_location("_cpmsurvey_sklearn_stop_words", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    words = getattr(module, "ENGLISH_STOP_WORDS", None)
    return frozenset(words) if words else imported_stop_words()


def imported_stop_words() -> frozenset[str]:
    """The reference: `sklearn.feature_extraction.text.ENGLISH_STOP_WORDS` by the public
    import (seconds: it loads scikit-learn, scipy and pandas)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def _list_file() -> Path | None:
    """The stop-word module of the installed scikit-learn, found without importing it;
    None when scikit-learn or the file is not there."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / _LIST_FILE
        if path.is_file():
            return path
    return None
