"""Names whose family name the source states ("García Márquez, Gabriel"), and the one family
name a citation and a BibTeX key use for a paper."""

from __future__ import annotations

import pytest

from retriever.names import display_name, group_author, inverted_name, lead_surname, surname


@pytest.mark.parametrize(
    ("parts", "stored", "shown", "family"),
    [
        (("García Márquez", "Gabriel", ""), "García Márquez, Gabriel", "Gabriel García Márquez", "García Márquez"),
        (("King", "Martin Luther", "Jr."), "King, Jr., Martin Luther", "Martin Luther King Jr.", "King"),
        (("de Sousa Leitão Filho", "Antonio", ""), "de Sousa Leitão Filho, Antonio", "Antonio de Sousa Leitão Filho",
         "de Sousa Leitão Filho"),
        (("Yu", "Xinmiao", ""), "Yu, Xinmiao", "Xinmiao Yu", "Yu"),
        (("Iso", "Hayate", ""), "Iso, Hayate", "Hayate Iso", "Iso"),
        (("GUO", "Jiaxin", ""), "GUO, Jiaxin", "Jiaxin GUO", "Guo"),
        (("ATLAS Collaboration", "", ""), "ATLAS Collaboration", "ATLAS Collaboration", "Collaboration"),
        ((" Smith ", " John  Paul ", ""), "Smith, John Paul", "John Paul Smith", "Smith"),
    ],
)
def test_a_stated_family_name_is_kept(parts, stored, shown, family):
    assert inverted_name(*parts) == stored
    assert display_name(stored) == shown
    assert surname(stored) == family


@pytest.mark.parametrize(
    "author", ["Martin Luther King, Jr.", "Gabriel García Márquez", "A, B, C", "Smith,", "Qwen Team"]
)
def test_a_name_not_written_family_first_is_shown_as_it_is(author):
    assert display_name(author) == author


def test_a_comma_setting_off_a_suffix_is_no_inversion():
    assert surname("Martin Luther King, Jr.") == "King"


def test_group_authors_also_written_family_first():
    assert group_author("Qwen Team") and group_author("Collaboration, ATLAS")
    assert not group_author("García Márquez, Gabriel")


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        (["Yu Xinmiao", "Zhang Liwen", "Feng Xiaocheng", "Jiang Yong"], "Yu"),
        (["Jiang Yong", "Yu Xinmiao", "Zhang Liwen"], "Jiang"),  # open, decided by its coauthors
        (["Jiang Yong", "Xinmiao Yu"], "Yong"),
        (["García Márquez, Gabriel", "Smith, John"], "García Márquez"),
        (["Qwen Team", "An Yang"], "Qwen Team"),
        (["NVIDIA", ":", "Aaron Blakeman"], "NVIDIA"),
        (["  ", ":", "Aaron Blakeman"], "Blakeman"),
        ([], ""),
    ],
)
def test_lead_surname(authors, expected):
    assert lead_surname(authors) == expected
