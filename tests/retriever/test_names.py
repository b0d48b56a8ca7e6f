"""The one family name a citation and a BibTeX key use for a paper (retriever.names)."""

from __future__ import annotations

import pytest

from retriever.names import group_author, lead_surname, surname


@pytest.mark.parametrize(
    "author",
    [
        "Qwen Team",
        "SIMA team",
        "Essential AI",
        "ATLAS Collaboration",
        "Team Cohere",
        "The Institute of Cancer Research",  # institutions of the arXiv sample
        "LG AI Research",
        "ARC Prize Foundation",
        "The Royal Marsden NHS Foundation Trust",
    ],
)
def test_group_authors(author):
    assert group_author(author)


@pytest.mark.parametrize(
    "author", ["Laura De Grazia", "Aiden Grouper", "Yu Xinmiao", "Tim Teamster", "The Anh Han", "The Viet Bui"]
)
def test_people_are_no_group(author):
    assert not group_author(author)


@pytest.mark.parametrize(
    ("authors", "expected"),
    [  # first authors of the arXiv sample
        (["Yu Xinmiao", "Zhang Liwen", "Feng Xiaocheng", "Jiang Yong"], "Yu"),
        (["Jiang Yong", "Yu Xinmiao", "Zhang Liwen"], "Jiang"),  # open, decided by its coauthors
        (["Jiang Yong", "Xinmiao Yu"], "Yong"),
        (["Laura De Grazia", "Pol Pastells"], "De Grazia"),
        (["Mouath Abu Daoud", "Chaimae Abouzahir"], "Abu Daoud"),
        (["Qwen Team", "An Yang"], "Qwen Team"),
        (["  Ring   Team", "Bin Hu"], "Ring Team"),
        (["NVIDIA", ":", "Aaron Blakeman"], "NVIDIA"),
        (["  ", ":", "Aaron Blakeman"], "Blakeman"),
        ([], ""),
    ],
)
def test_lead_surname(authors, expected):
    assert lead_surname(authors) == expected


def test_lead_surname_is_the_surname_the_text_uses():
    authors = ["Wang Yu-Hang", "Shiwei Li", "Tan Zhi-Xuan"]
    assert lead_surname(authors) == surname(authors[0], family_first=True) == "Wang"
