"""BibTeX keys name a paper by its first author's family name, as the survey text does."""

from __future__ import annotations

import re
from datetime import date

import pytest

from retriever.names import name_order
from retriever.store import PaperStore
from retriever.types import Paper


def _paper(authors: tuple[str, ...], title: str, published: date | None = date(2025, 6, 1)) -> Paper:
    return Paper("2506.00001", title, "Abstract.", authors, ("cs.CL",), published)


@pytest.mark.parametrize(
    ("authors", "title", "key"),
    [  # real papers of the arXiv sample (was: the last word of the name, accents dropped)
        (("Cheng Yifan", "Zhang Ruoyi"), "MIKU-PAL: An Automated Method", "cheng2025miku"),  # was yifan2025miku
        (("Dang Jisheng", "Wu Xudong"), "Decoupled Global-Local Alignment", "dang2025decoupled"),
        (("Wang Yu-Hang", "Shiwei Li"), "The Power of Architecture", "wang2025power"),  # was yuhang2025power
        (("Laura De Grazia", "Pol Pastells"), "MUSEd: A Multimodal Spanish Dataset", "degrazia2025mused"),
        (("Carel van Niekerk", "Renato Vukovic"), "Post-Training Large Language Models", "vanniekerk2025post"),
        (("Mouath Abu Daoud", "Chaimae Abouzahir"), "MedArabiQ: Benchmarking", "abudaoud2025medarabiq"),
        (("Raúl Vázquez", "Timothee Mickus"), "SemEval-2025 Task 3", "vazquez2025semeval"),  # was vzquez2025semeval
        (("Jakub Šmíd", "Pavel Přibáň"), "Large Language Models for Czech", "smid2025large"),  # was md2025large
        (("Essential AI", ":", "Ishaan Shah"), "Rethinking Reflection in Pre-Training", "essentialai2025rethinking"),
        (("Ring Team", "Bin Hu"), "Every FLOP Counts", "ringteam2025every"),  # was team2025every
        (("Xinmiao Yu", "Liwen Zhang"), "Causal Sufficiency", "yu2025causal"),
        (("García Márquez, Gabriel",), "Cien Años de Soledad", "garciamarquez2025cien"),  # family name stated
        ((), "Anonymous work", "anon2025anonymous"),
    ],
)
def test_key_of_real_authors(authors, title, key):
    assert _paper(authors, title).cite_key == key


def test_a_key_without_year_or_letters_still_exists():
    assert _paper(("Ab",), "On it", published=None).cite_key == "abpaper"
    assert _paper(("李明",), "的", published=None).cite_key == "anonpaper"  # no ASCII letter in the name


def test_every_sample_key_is_ascii_and_family_first_names_lead(sample_records):
    papers = [Paper.from_dict(record) for record in sample_records]
    assert all(re.fullmatch(r"[a-z0-9]+", paper.cite_key) for paper in papers)
    led = [paper for paper in papers if paper.authors and name_order(paper.authors[0]) is not None]
    assert led, "the slice holds names whose words tell their order"
    for paper in led:
        first, last = paper.authors[0].lower().replace("-", "").split()
        family = first if name_order(paper.authors[0]) else last
        assert paper.cite_key.startswith(family), (paper.authors[0], paper.cite_key)


def test_a_library_stored_before_gets_the_new_keys(tmp_path):
    path = tmp_path / "papers.sqlite"
    store = PaperStore(path)
    store.upsert([_paper(("Cheng Yifan", "Zhang Ruoyi"), "MIKU-PAL: An Automated Method")])
    store.close()
    [paper] = PaperStore(path).get(["2506.00001"])
    assert paper.authors == ("Cheng Yifan", "Zhang Ruoyi") and paper.cite_key == "cheng2025miku"
