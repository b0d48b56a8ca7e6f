"""Family names of real arXiv authors (the strings as the corpus lists them) for "X et al."."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from retriever.names import family_first, name_order, surname
from writer.grounded.attribution import author_phrase

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAMPLE = SHARED_DATA / "arxiv" / "arxiv_cs_CL_LG_AI_sample5k.jsonl.gz"


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("Jutika Borah", "Borah"),
        ("Hidam Kumarjit Singh", "Singh"),
        ("David I. Inouye", "Inouye"),
        ("Ludwig van Beethoven", "van Beethoven"),
        ("Smith, John", "Smith"),
        ("Martin Luther King Jr.", "King"),
        ("Lucio Veraldo Jr", "Veraldo"),
        ("Marianne de Heer Kloots", "de Heer Kloots"),
        ("Pablo de los Riscos", "de los Riscos"),
        ("Abdullah Al Mamun", "Al Mamun"),
        ("Blaise Agüera y Arcas", "Agüera y Arcas"),
        ("Di Wu", "Wu"),  # "Di" is a given name here, not the Italian particle
        ("Le Zhang", "Zhang"),
        ("Da Li", "Li"),
        ("Xue Bin Peng", "Peng"),  # "Bin" is a syllable of the given name
        ("Anas Bin Ayub", "Ayub"),
        ("Prince Kumar", "Kumar"),  # an author list holds no titles
        ("Lama Sleem", "Sleem"),
        ("Hayate Iso", "Iso"),  # nameparser reads "Iso" as a credential: the last word stands
        ("Nikolaos Al. Papadopoulos", "Papadopoulos"),
        ("Aditi", "Aditi"),
        ("Jiaxin GUO", "Guo"),
        ("Frédéric LIN", "Lin"),
        ("Aswin RRV", "RRV"),  # initials and acronyms stay as written
        ("Oxygen AIIC", "AIIC"),
        ("Kağan ÇETİN", "ÇETİN"),
        ("Suhas BN", "BN"),
        ("Antonio de Sousa Leitão Filho; Allan Kardec Duailibe Barros Filho", "de Sousa Leitão Filho"),
    ],
)
def test_surname_of_real_authors(author, expected):
    assert surname(author) == expected


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("Yu Xinmiao", True),
        ("Wang Yu-Hang", True),
        ("Xinmiao Yu", False),
        ("Hongzhan Lin", False),
        ("Jiang Yong", None),  # both words could be either
        ("Wei Chen", None),
        ("Lance Ying", None),
        ("Mai Ali", None),  # "Ali" spells as pinyin but is a common name in English text
        ("Chen Shani", None),
        ("Yu Takahashi", None),  # four syllables: not a Chinese given name
        ("Jin Lee", None),
        ("Min Choi", None),
        ("Ludwig van Beethoven", None),
        ("A. Smith", None),
    ],
)
def test_name_order_by_the_words(author, expected):
    assert name_order(author) is expected


def test_a_team_in_lower_case_is_named_whole():
    assert author_phrase(["SIMA team", "Adrian Bolton", "Gil Keren"]) == ("SIMA team", False)
    assert author_phrase(["FANAR TEAM", "Ummar Abbas"]) == ("FANAR TEAM", False)


def test_a_paper_typed_family_first_decides_its_open_names():
    authors = ["Yu Xinmiao", "Zhang Liwen", "Feng Xiaocheng", "Jiang Yong", "Qin Bing", "Xie Pengjun", "Zhou Jingren"]
    assert family_first(authors) == [True] * 7
    assert author_phrase(authors) == ("Yu et al.", True)
    assert author_phrase(["Liu Qiong", "Li Zhengbo"]) == ("Liu and Li", True)
    # One family-first coauthor leaves the others as typed: "Lance Ying" is not Chinese-shaped.
    mixed = ["Lance Ying", "Almog Hillel", "Ryan Truong", "Joshua B. Tenenbaum", "Tan Zhi-Xuan"]
    assert family_first(mixed) == [False, False, False, False, True]
    assert author_phrase(mixed) == ("Ying et al.", True)
    # Given-first names outvote: "Wei Chen" stays given-first beside "Xinmiao Yu".
    assert family_first(["Wei Chen", "Xinmiao Yu", "Yu Xinmiao", "Haowei Lin"]) == [False, False, True, False]


@pytest.mark.skipif(not SAMPLE.exists(), reason="needs ../shared/data (the arXiv sample)")
def test_every_real_first_author_is_named_by_words_of_their_name():
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as lines:
        lists = [json.loads(line)["authors"] for line in lines]
    for authors in lists:
        people = [" ".join(author.split()) for author in authors if author.strip() and author != ":"]
        phrase, _ = author_phrase(authors)
        if not people:
            assert phrase == "One study"
            continue
        first = phrase.removesuffix(" et al.").split(" and ")[0]
        # words of the name, as written or, for a family name in capitals ("Haibo HU"), lowered
        assert first and f" {first.lower()} " in f" {people[0].split(';')[0].lower()} ", (authors[:2], phrase)
