"""A parsing worker of an index build (qa.index.parses): `python -m qa.index.parse_worker TEXTS FOLDER CHUNK PID`.

Started by the build in a new Python process, so nothing of the program that asked for the build runs again in it.
It parses the texts (a JSON string a line) whole and saves them a chunk at a time into the build's staging folder,
and stops when the build process PID is gone (what it saved stays for a resumed build). It runs at a lower priority
(nice NICENESS): a chat answering while its index is refreshed keeps the cores it needs, and an idle machine still
gives the workers all of them. Seed-corpus ask() p50 while two workers parsed 4,400 news passages: 66.3 ms at
normal priority, 39.1 ms at nice 10 (44.1 ms with nothing running), the parse taking as long (scratch
`/work/tools/nice22.py`, twenty-second session).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Sequence

from qa.index.parses import WORKER_BATCH, Chunks, parse_texts
from qa.index.refresh import text_key

NICENESS = 10


def main(argv: Sequence[str]) -> int:
    """Parse and save; 0 when done, 1 when the build process is gone, 2 on bad arguments."""
    if len(argv) != 4:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    texts_file, folder, chunk, parent = argv
    if hasattr(os, "nice"):  # not on Windows
        os.nice(NICENESS)
    with open(texts_file, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    chunks = Chunks(Path(folder), int(chunk))
    for a in range(0, len(texts), WORKER_BATCH):
        if os.getppid() != int(parent):
            return 1
        batch = texts[a:a + WORKER_BATCH]
        chunks.add([text_key(t) for t in batch], parse_texts(batch))
    chunks.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
