"""The load benchmark's generated corpus (invented towns' cooperatives, one question per article) and its
summary helpers."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

_SYLLABLES = ["ka", "lo", "mi", "ren", "tu", "vas", "zor", "bel", "din", "qua", "sel", "tor", "nim", "paz",
              "hul", "gri"]
_GOODS = ["rice", "coffee", "silk", "pepper", "tea", "cashew", "rubber", "cocoa", "honey", "bamboo",
          "ceramics", "cinnamon", "shrimp", "mango", "cotton", "lacquer", "salt", "timber", "orchid", "cheese"]
_JOBS = ["teacher", "farmer", "engineer", "nurse", "fisherman", "carpenter", "baker", "pharmacist"]


def _word(n: int, width: int = 3) -> str:
    """A pronounceable invented word, unique for each n < 16**width."""
    parts = []
    for _ in range(width):
        n, r = divmod(n, len(_SYLLABLES))
        parts.append(_SYLLABLES[r])
    return "".join(parts).capitalize()


@dataclass(frozen=True)
class Case:
    """One benchmark question and the article file that must answer it."""

    question: str
    source: str
    person: str


def write_corpus(folder: Path, n: int) -> list[Case]:
    """Write `n` articles, each about a different invented town, and return one question per article."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for i in range(n):
        town, person = f"{_word(i)}ville", f"{_word(i * 7 + 1000)} {_word(i * 13 + 2000)}"
        goods, job = _GOODS[i % len(_GOODS)], _JOBS[i % len(_JOBS)]
        day = dt.date(2021, 1, 1) + dt.timedelta(days=i)
        name = f"bench-{i:03d}.txt"
        (folder / name).write_text(
            f"{town} opens a {goods} cooperative\n\n{day.isoformat()}\n\n"
            f"The {goods} cooperative of {town} opened its doors on Monday. It was founded by {person}, "
            f"a local {job}, with savings from forty families.\n\n"
            f"Residents of {town} said the cooperative would sell {goods} to the neighbouring districts "
            f"and hire young workers from the valley.\n", encoding="utf-8")
        cases.append(Case(question=f"Who founded the {goods} cooperative in {town}?", source=name, person=person))
    return cases


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of `values` (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(q / 100 * len(ordered))) - 1)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
