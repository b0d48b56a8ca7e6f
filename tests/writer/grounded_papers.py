"""Small hand-made papers for the grounded writer's tests."""

from __future__ import annotations

from datetime import date

from retriever.types import Paper

ADAPTERS = Paper(
    "2501.00001",
    "Adapters",
    "Fine-tuning every weight is costly. We propose bottleneck adapters that train 3% of the parameters. "
    "Scaling adapters to many tasks remains an open problem.",
    authors=("Neil Houlsby", "Andrei Giurgiu", "Stanislaw Jastrzebski"),
    categories=("cs.LG", "cs.CL"),
    published=date(2024, 3, 5),
)
PROMPTS = Paper(
    "2501.00002",
    "Prompt tuning",
    "In this work, we introduce prompt tuning, which learns soft prompts for a frozen language model by "
    "backpropagation. "
    "It matches full fine-tuning at eleven billion parameters.",
    authors=("Brian Lester", "Rami Al-Rfou"),
    categories=("cs.CL",),
    published=date(2025, 1, 20),
)
PRUNING = Paper(
    "2501.00003",
    "Pruning",
    "This paper studies magnitude pruning of large language models at scale. "
    "Why pruning fails on reasoning tasks is not well understood.",
    authors=("Mingjie Sun",),
    categories=("cs.LG",),
    published=date(2025, 6, 1),
)
DISTILLATION = Paper(
    "2501.00004",
    "Distillation",
    "We show that distilled students keep most of the teacher's accuracy on reading comprehension.",
    authors=(),
    categories=("cs.CL", "cs.AI"),
    published=date(2025, 2, 14),
)
EMPTY = Paper("2501.00005", "Empty", "", authors=("A Writer",), published=date(2025, 1, 1))
FRENCH = Paper(
    "2501.00006",
    "Français",
    "Nous proposons une nouvelle méthode pour la classification des images. Elle est rapide et précise.",
    authors=("Jean Dupont",),
    published=date(2025, 1, 1),
)
FORMULA = Paper(
    "2501.00007",
    "Formula",
    r"We minimise $\mathcal{L} = \sum_i \|x_i\|^2$ over all $\theta \in \Theta$. See https://x.io.",
    authors=("B Coder",),
    published=date(2025, 1, 1),
)
