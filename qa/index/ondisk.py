"""Read-only arrays and byte ranges of index files, read with pread instead of memory-mapped.

A memory map of a file that is truncated under the process (another process rewriting or damaging the live
generation) raises SIGBUS on the next access, which Python cannot catch: the serving process dies. pread on
the same file returns fewer bytes than asked, which becomes an IndexDamaged error for that one question, and
`damaged()` lets the caller notice before it reads and load the index again. The cost is a system call per
contiguous run of rows: the reads a question makes (a few hundred candidate vectors, a BM25 column per
query term, a few passages) take well under a millisecond.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from qa.index.manifest import IndexLoadError

# Rows closer together than this many bytes are read in one call, gaps included: a system call costs more
# than copying a few pages.
_GAP_BYTES = 64 * 1024


class IndexDamaged(IndexLoadError):
    """An index file changed size under the running process."""


class RangeFile:
    """A file read by byte range; its size when opened is what it must keep."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = open(self.path, "rb", buffering=0)  # closed with this object
        self.size = os.fstat(self._file.fileno()).st_size

    def read(self, offset: int, nbytes: int) -> bytes:
        """`nbytes` bytes from `offset`; IndexDamaged if the file is shorter than that now."""
        if nbytes <= 0:
            return b""
        chunks, fd = [], self._file.fileno()
        while nbytes > 0:
            chunk = os.pread(fd, nbytes, offset)
            if not chunk:
                raise IndexDamaged(f"{self.path.name} was truncated in {self.path.parent} while in use")
            chunks.append(chunk)
            offset += len(chunk)
            nbytes -= len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def damaged(self) -> str | None:
        """Why the file can no longer be read as it was opened (it shrank), or None."""
        now = os.fstat(self._file.fileno()).st_size
        return None if now >= self.size else f"{self.path.name} shrank from {self.size} to {now} bytes"

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class DiskArray:
    """A C-ordered .npy array indexed like a read-only numpy array (int, slice, integer array) along axis 0."""

    def __init__(self, path: Path):
        self.file = RangeFile(path)
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"{path}: unsupported .npy version {version}")
            shape, fortran, dtype = read_header(f)
            self.offset = f.tell()
        if fortran or dtype.hasobject or not shape:
            raise ValueError(f"{path}: not a plain C-ordered array")
        self.shape, self.dtype = tuple(shape), dtype
        self.row_shape = self.shape[1:]
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * dtype.itemsize
        if self.file.size < self.offset + self.shape[0] * self.row_bytes:
            raise ValueError(f"{path}: file is shorter than its {self.shape} array")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def _rows(self, start: int, stop: int) -> np.ndarray:
        raw = self.file.read(self.offset + start * self.row_bytes, (stop - start) * self.row_bytes)
        return np.frombuffer(raw, dtype=self.dtype).reshape((stop - start, *self.row_shape))

    def __getitem__(self, key):
        n = len(self)
        if isinstance(key, (int, np.integer)):
            i = int(key) + n if key < 0 else int(key)
            if not 0 <= i < n:
                raise IndexError(f"index {key} is out of bounds for length {n}")
            return self._rows(i, i + 1)[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1:
                return self._rows(start, max(start, stop))
            return self.take(np.arange(start, stop, step))
        return self.take(key)

    def take(self, rows) -> np.ndarray:
        """The given rows (any order, repeats allowed), reading each cluster of nearby rows at once."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64, copy=False).reshape(-1)
        n = len(self)
        rows = np.where(rows < 0, rows + n, rows)
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"row index out of bounds for length {n}")
        out = np.empty((len(rows), *self.row_shape), dtype=self.dtype)
        if not len(rows):
            return out
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        gap_rows = max(1, _GAP_BYTES // max(self.row_bytes, 1))
        cuts = np.flatnonzero(np.diff(ordered) > gap_rows) + 1
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(ordered)]):
            lo, hi = int(ordered[a]), int(ordered[b - 1]) + 1
            block = self._rows(lo, hi)
            out[order[a:b]] = block[ordered[a:b] - lo]
        return out

    def __array__(self, dtype=None, copy=None):
        whole = self._rows(0, len(self))
        return whole if dtype is None else whole.astype(dtype)

    def damaged(self) -> str | None:
        """Why the file can no longer be read (it shrank), or None."""
        return self.file.damaged()
