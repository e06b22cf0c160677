"""Evaluation output: a terminal table, and a Markdown report with a recall@k plot and the misses."""
from __future__ import annotations

import shutil

from pathlib import Path
from typing import Mapping

TABLE_KEYS = ("questions", "hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "answer_in@1", "answer_in@5",
              "em", "f1", "abstain_precision", "abstain_recall", "latency_p50_ms", "latency_p95_ms")


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}"
    return str(v)


def table(rows: Mapping[str, Mapping], keys: tuple[str, ...] = TABLE_KEYS, width: int | None = None) -> str:
    """A plain-text table: one row per name (set, mode or category), one column per metric present.

    Columns that do not fit in `width` characters (default: the terminal's, at most 100) go to a further
    block below, each block repeating the names.
    """
    width = width or min(100, shutil.get_terminal_size((100, 24)).columns)
    cols = [k for k in keys if any(k in r for r in rows.values())]
    cells = {k: [k, *(_cell(r.get(k)) for r in rows.values())] for k in cols}
    names = ["", *rows]
    name_w = max(len(str(n)) for n in names)
    blocks, block, used = [], [], name_w
    for k in cols:
        w = max(len(str(c)) for c in cells[k])
        if block and used + 2 + w > width:
            blocks.append(block)
            block, used = [], name_w
        block.append((k, w))
        used += 2 + w
    blocks.append(block)
    out = []
    for block in blocks:
        lines = [str(n).ljust(name_w) + "".join("  " + str(cells[k][i]).rjust(w) for k, w in block)
                 for i, n in enumerate(names)]
        lines.insert(1, "-" * name_w + "".join("  " + "-" * w for _, w in block))
        out.append("\n".join(line.rstrip() for line in lines))
    return "\n\n".join(out)


def markdown_table(rows: Mapping[str, Mapping], keys: tuple[str, ...] = TABLE_KEYS) -> str:
    """The same table in Markdown."""
    cols = [k for k in keys if any(k in r for r in rows.values())]
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(_cell(r.get(k)) for k in cols) + " |" for name, r in rows.items()]
    return "\n".join(lines)


def pyplot():
    """matplotlib.pyplot on the Agg backend: plots go to files, never to a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def recall_plot(rows: Mapping[str, Mapping], path: Path) -> None:
    """hit@k against k for each row, saved as PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in rows.items():
        ks = sorted(int(key.split("@")[1]) for key in r if key.startswith("hit@") and r[key] is not None)
        if ks:
            ax.plot(ks, [r[f"hit@{k}"] for k in ks], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("k (distinct sources)")
    ax.set_ylabel("recall@k (gold source in top k)")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(path: Path, title: str, rows: Mapping[str, Mapping], categories: Mapping[str, Mapping],
                 missed: list[dict], command: str) -> None:
    """Markdown report with the metric tables, a recall@k plot beside it and the list of misses."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot = path.with_suffix(".png")
    recall_plot(rows, plot)
    parts = [f"# {title}", "", f"Command: `{command}`", "", markdown_table(rows), "",
             f"![recall@k]({plot.name})", ""]
    if categories:
        parts += ["## By category", "", markdown_table(categories), ""]
    parts += [f"## Misses ({len(missed)} shown)", ""]
    for x in missed:
        parts.append(f"- **{x['question']}** — expected {x['expected']} ({x['expected_source']}); "
                     f"got {x['got']!r} from {x['got_source']}")
        if x.get("first_passage"):
            parts.append(f"  > {x['first_passage']}")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
