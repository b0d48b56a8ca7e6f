"""Family names of authors as a corpus lists them: "Smith et al." in the survey's text and
the first author's part of a BibTeX key (Paper.cite_key).

Names are parsed by nameparser ("Ludwig van Beethoven" -> "van Beethoven", "Smith, John" ->
"Smith", "Martin Luther King Jr." -> "King", "Abdullah Al Mamun" -> "Al Mamun"). An author
list carries no titles, so "Prince Kumar" or "Lama Sleem" are read as given names.

arXiv lists names as their authors typed them, and some Chinese authors type the family name
first ("Yu Xinmiao"): :func:`family_first` tells such a two-word name by its words, a common
Chinese family name before a two-syllable pinyin given name rare in English text, and a name its
words leave open ("Jiang Yong") by the other names of the same paper.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from functools import cache, lru_cache

from nameparser import Lexicon, Parser
from wordfreq import zipf_frequency

# Common Chinese family names in pinyin (the most frequent of the mainland and Taiwan
# rankings, and the compound ones), so that a given name written after them is recognised.
_FAMILY_NAMES_TEXT = """
    ai an bai ban bao bei bi bian bo bu cai cao cen chai chang chao che chen cheng chi chu cui dai dang deng di
    diao ding dong dou du duan fan fang fei feng fu gan gao ge geng gong gou gu guan guo han hao he hong hou hu
    hua huang ji jia jian jiang jiao jin jing kang ke kong kou kuang lai lan lang lao lei leng li lian liang liao
    lin ling liu long lou lu luan luo lv lyu ma mai man mao mei meng mi miao min ming mo mou mu ni nie ning niu
    ou pan pang pei peng pi ping pu qi qian qiao qin qiu qu quan ran rao ren rong ruan rui sang sha shan shang
    shao shen sheng shi shu si song su sui sun tai tan tang tao teng tian tong tu wan wang wei wen weng wu xi
    xia xian xiang xiao xie xin xing xiong xu xue yan yang yao ye yi yin ying yong you yu yuan yue yun zang zeng
    zhai zhan zhang zhao zhen zheng zhong zhou zhu zhuang zhuo zong zou zuo
    ouyang sima zhuge shangguan situ huangfu murong linghu duanmu gongsun dongfang ximen zhangsun yuchi
"""
CHINESE_FAMILY_NAMES = frozenset(_FAMILY_NAMES_TEXT.split())
# One pinyin syllable without tones, as names are written ("xin", "miao", "zhuang"); a syllable
# without an initial ("an", "er") only opens a word, as pinyin would set an apostrophe before it
# elsewhere. Japanese and Korean names that happen to be pinyin-like fail it ("Takahashi" has
# four syllables, "Lee" an "e" after "le", "Choi" an "o" after "ch").
_OPENING = r"(?:a|ai|an|ang|ao|e|ei|en|eng|er|ou)"
_INNER = (
    r"(?:[bpmdtnl](?:iang|iao|ian|ing|ia|ie|iu|in|i)|"
    r"(?:zh|ch|sh|[bpmfdtnlgkhrzcs])(?:uang|ang|eng|ong|uai|uan|ai|ei|ao|ou|an|en|ua|ui|un|uo|a|e|u)|"
    r"(?:zh|ch|sh|[zcsr])i|[bpmf]o|[nl](?:ve|ue|v)|"
    r"[jqx](?:iang|iong|iao|ian|ing|ia|ie|iu|in|i|uan|ue|un|u)|"
    r"y(?:ang|ao|an|ai|a|e|ing|in|i|ong|ou|o|uan|ue|un|u)|w(?:ang|ai|an|a|eng|ei|en|o|u))"
)
_ONE_SYLLABLE = re.compile(f"{_OPENING}|{_INNER}")
_TWO_SYLLABLES = re.compile(f"(?:{_OPENING}|{_INNER}){_INNER}")
# A pinyin given name is rare in English text (wordfreq's Zipf scale: "Xiaoyu" 1.8, "Shani"
# 2.4, "Hana" 3.2, "Ali" 4.3).
MAX_GIVEN_NAME_ZIPF = 2.0
_WORD = re.compile(r"^[A-Z][a-z]+(?:-[A-Za-z][a-z]*)?$")
# A team or organisation listed as an author ("Qwen Team", "SIMA team", "Essential AI", "ATLAS Collaboration").
_GROUP_AUTHOR = re.compile(
    r"\b(?:[Tt]eam|TEAM|Collaboration|Consortium|Group|Lab|Labs|Inc\.?|AI"
    r"|Research|Institute|Foundation|Trust|Community|Partnership)$"
    r"|^Team\b"  # not "^The": "The Anh Han" is a person (Vietnamese Thế)
)


# "Bin" opens a family name in Arabic and Malay names ("Anas Bin Ayub") but is far more often
# a syllable of a Chinese or Korean given name ("Xue Bin Peng", "Young Bin Park").
_NOT_PARTICLES = ("bin",)


@cache
def _parser() -> Parser:
    """nameparser without titles: in an author list "Prince", "Lama" or "Sheikh" is a given name."""
    lexicon = dataclasses.replace(
        Lexicon.default(), titles=frozenset(), given_name_titles=frozenset(), after_given_titles=frozenset()
    )
    return Parser(lexicon=lexicon.remove(particles=_NOT_PARTICLES, particles_ambiguous=_NOT_PARTICLES))


def surname(author: str, family_first: bool = False) -> str:
    """The family name of one author: "Jutika Borah" -> "Borah", "Ludwig van Beethoven" ->
    "van Beethoven", "Smith, John" -> "Smith", "King Jr." -> "King"; with `family_first`
    (:func:`family_first`) the first word: "Yu Xinmiao" -> "Yu". A name nameparser leaves
    without a family name, or reads as nothing but one ("Hayate Iso", "Het Patel"), gives its
    last word; names run together with ";" give the first one's; a Chinese family name in capitals
    is lowered ("Jiaxin GUO" -> "Guo")."""
    author = " ".join(author.split(";")[0].split())
    words = author.split(" ")
    if family_first and len(words) == 2:
        return words[0]
    family = _family(author).split(" ")
    while len(family) > 1 and family[0].endswith("."):  # "Nikolaos Al. Papadopoulos": an initial
        family.pop(0)
    if not family[0] or (len(words) > 1 and family == words):
        return words[-1].strip(",")
    return _uncapitalised(" ".join(family))


def group_author(author: str) -> bool:
    """Whether `author` is a team or organisation ("Qwen Team", "SIMA team", "Essential AI",
    "ATLAS Collaboration"), named whole rather than by a family name."""
    return bool(_GROUP_AUTHOR.search(" ".join(author.split())))


def lead_surname(authors: Sequence[str]) -> str:
    """How a citation names a paper by its first author: the family name ("Yu Xinmiao",
    written family name first by :func:`family_first`, gives "Yu"), a group author whole
    ("Qwen Team"), "" for a paper without authors; ":" (after a group) is no author."""
    people = [author for author in authors if author.strip() and author.strip() != ":"]
    if not people:
        return ""
    if group_author(people[0]):
        return " ".join(people[0].split())
    return surname(people[0], family_first(people)[0])


def _uncapitalised(family: str) -> str:
    """A Chinese family name written in capitals as such: "GUO" -> "Guo"; initials and
    acronyms stay ("RRV", "AIIC")."""
    lowered = family.lower()
    if family.isupper() and (lowered in CHINESE_FAMILY_NAMES or _ONE_SYLLABLE.fullmatch(lowered)):
        return family.title()
    return family


@lru_cache(maxsize=4096)
def _family(author: str) -> str:
    """nameparser's family name of `author`; a survey names each paper's authors several times."""
    return _parser().parse(author).family


def _pinyin_given(word: str) -> bool:
    """Whether `word` reads as a Chinese given name of two pinyin syllables ("Xinmiao",
    "Xiao-Cheng"): not a family name, nor a word or name English text often uses ("Ali",
    "Hana", "Shani" spell as pinyin too)."""
    lowered = word.lower().replace("-", "")
    return (
        lowered not in CHINESE_FAMILY_NAMES
        and bool(_TWO_SYLLABLES.fullmatch(lowered))
        and zipf_frequency(lowered, "en") < MAX_GIVEN_NAME_ZIPF
    )


def name_order(author: str) -> bool | None:
    """What a two-word name's words say of its order: True for family name first ("Yu
    Xinmiao"), False for given name first ("Xinmiao Yu"), None when they say nothing ("Jiang
    Yong", "Jutika Borah", "A. Smith", "Ludwig van Beethoven")."""
    words = author.split()
    if len(words) != 2 or not all(_WORD.match(word) for word in words):
        return None
    first, last = words
    if first.lower() in CHINESE_FAMILY_NAMES and _pinyin_given(last):
        return True
    if last.lower() in CHINESE_FAMILY_NAMES and _pinyin_given(first):
        return False
    return None


def family_first(authors: Sequence[str]) -> list[bool]:
    """For each of a paper's authors, whether the name is written family name first: by its
    own words (:func:`name_order`), or, where they say nothing, as most of the paper's names
    whose words do say (authors typed in one style: "Yu Xinmiao, ..., Jiang Yong")."""
    orders = [name_order(author) for author in authors]
    first, last = orders.count(True), orders.count(False)
    default = first > last
    return [
        default if order is None and _chinese_shaped(author) else bool(order)
        for author, order in zip(authors, orders, strict=True)
    ]


def _chinese_shaped(author: str) -> bool:
    """Whether `author` is two words, each a Chinese family name or a one-syllable pinyin
    given name, which may stand in either order ("Jiang Yong", "Wei Chen", "Li Li")."""
    words = author.split()
    return len(words) == 2 and all(
        _WORD.match(word) and (word.lower() in CHINESE_FAMILY_NAMES or _ONE_SYLLABLE.fullmatch(word.lower()))
        for word in words
    )
