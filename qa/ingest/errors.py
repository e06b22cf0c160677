"""The errors ingest raises: a file that cannot be read (IngestError), a corpus that yields nothing (CorpusError)."""
from __future__ import annotations


class IngestError(Exception):
    """A file that cannot be read or parsed; the message names the file and the reason."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source, self.reason = source, reason


class CorpusError(Exception):
    """The corpus folder is missing, unreadable, or yields no articles."""
