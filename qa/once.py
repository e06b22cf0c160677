"""Files made once and shared by processes: built beside their place under a file lock, then moved in whole.

Used for what the runtime derives on first use into the cache (the int8 ONNX encoder and reader, a reader base
unpacked from its package): two processes starting together build it once, and a crash mid-build leaves no
half-made file or folder where the finished one belongs.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

LOCK_TIMEOUT = 1800  # seconds another process may take to finish the same build


def made_once(dest: Path, make: Callable[[Path], Path], lock: str = ".build.lock",
              ready: Callable[[], bool] | None = None) -> Path:
    """`dest`, made by `make(tmp)` unless `ready()` (default: `dest` exists).

    Under a file lock in `dest`'s folder, `make` builds into a fresh temporary folder beside `dest` and returns
    what it built there (a file, or the folder itself); that replaces `dest` in one rename."""
    from filelock import FileLock

    ready = ready or dest.exists
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest.parent / lock), timeout=LOCK_TIMEOUT):
        if ready():  # already there, or another process finished it while this one waited
            return dest
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest.parent))
        try:
            built = make(tmp)
            if built.is_file():
                with open(built, "rb") as f:
                    os.fsync(f.fileno())
            if dest.is_dir():
                shutil.rmtree(dest)
            os.replace(built, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
