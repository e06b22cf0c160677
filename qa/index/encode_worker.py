"""The embedding worker of an index build (qa.index.staging): `python -m qa.index.encode_worker TEXTS FOLDER CHUNK PID
MODEL BATCH`.

Started by the build in a new Python process when it has many passages to embed, so a chat answering from the index
while it is refreshed keeps its cores: the worker runs at a lower priority (nice parse_worker.NICENESS), as the
parse workers do, and an idle machine still gives it every core. It loads the encoder by model name (the vectors are
the same to the bit as the building process's: tests/test_staging.py), encodes the texts (a JSON string a line) and
saves them a chunk at a time into the build's staging folder, as a build in the building process would, so what it
saved stays for a resumed build. It writes "encoded N" to stderr as it goes (the building process reads it for its
progress bar), and stops when the build process PID is gone.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.index.parse_worker import NICENESS

STEP = 256  # texts encoded between two progress lines (and two looks at the building process)


def main(argv: Sequence[str]) -> int:
    """Encode and save; 0 when done, 1 when the build process is gone, 2 on bad arguments."""
    if len(argv) != 6:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    texts_file, folder, chunk, parent, model, batch = argv
    if hasattr(os, "nice"):  # not on Windows
        os.nice(NICENESS)
    from qa.embed import get_encoder
    from qa.index.refresh import text_keys
    from qa.index.staging import save_chunk

    with open(texts_file, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    encoder, size, done = get_encoder(model), max(1, int(chunk)), 0
    for a in range(0, len(texts), size):
        part, vectors = texts[a:a + size], []
        for b in range(0, len(part), STEP):
            if os.getppid() != int(parent):
                return 1
            vectors.append(encoder.encode(part[b:b + STEP], batch_size=int(batch)))
            done += len(vectors[-1])
            print(f"encoded {done}", file=sys.stderr, flush=True)
        save_chunk(Path(folder), encoder.name, text_keys(part), np.concatenate(vectors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
