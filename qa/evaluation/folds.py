"""The fold readers that make a RealTimeQA figure honest for a reader trained on RealTimeQA dev.

The shipped reader fine-tuned on all of RealTimeQA dev's questions, so its answers to them are in sample. Two
readers trained the same way on half of them each (`python -m qa.evaluation.reader train --news odd|even`) answer
each question with the one that never saw it. They are small LoRA artifacts kept in the repository
(`eval/readers/`, see its README) so that every machine measures news honestly without hours of training first;
`folds.json` there names the shipped reader they stand for (the sha256 of its weights), and they are used only
while that reader is the one in use.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qa.config import REPO_ROOT

FOLDS_DIR = REPO_ROOT / "eval" / "readers"
FOLDS_FILE = "folds.json"
AUTO, NONE = "auto", "none"


@dataclass(frozen=True)
class Folds:
    """(reader for the questions at even positions, reader for the odd ones), or why there are none."""

    readers: tuple[Path, Path] | None
    note: str = ""


def committed(folds_dir: Path = FOLDS_DIR) -> Folds:
    """The fold readers kept in `folds_dir` when they stand for the reader in use, else Folds(None, why)."""
    from qa.read import neural

    meta = folds_dir / FOLDS_FILE
    if not meta.is_file():
        return Folds(None, f"no fold readers in {folds_dir}")
    try:
        spec = json.loads(meta.read_text(encoding="utf-8"))
        pair = (folds_dir / spec["even_questions"], folds_dir / spec["odd_questions"])
        stands_for = spec["stands_for_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Folds(None, f"{meta} is unreadable ({exc})")
    if not all(neural.available(d) for d in pair):
        return Folds(None, f"{meta} names reader folders that hold no artifact")
    in_use = neural.artifact_dir()
    if not neural.available(in_use) or neural.artifact_sha256(in_use) != stands_for:
        return Folds(None, f"the fold readers in {folds_dir} stand for another reader than {in_use}")
    return Folds(pair)


def resolve(spec: str, folds_dir: Path = FOLDS_DIR) -> Folds:
    """--news-readers as given: "auto" (the committed folds when they fit the reader in use), "none" (the reader in
    use answers every question: in sample if it trained on them), or "EVEN_DIR,ODD_DIR" (two artifact folders:
    the reader for the even questions, trained on the odd ones, then the one for the odd questions).

    Raises ValueError with a one-line message for a malformed spec."""
    from qa.read import neural

    spec = (spec or AUTO).strip()
    if spec == NONE:
        return Folds(None, "--news-readers none")
    if spec == AUTO:
        return committed(folds_dir)
    pair = tuple(Path(d) for d in spec.split(","))
    if len(pair) != 2 or not all(neural.available(d) for d in pair):
        raise ValueError("--news-readers wants auto, none or EVEN_DIR,ODD_DIR: two reader artifact folders")
    return Folds(pair)  # type: ignore[arg-type]
