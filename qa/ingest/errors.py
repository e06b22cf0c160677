"""The errors ingest raises: a file that cannot be read (IngestError), a corpus that yields nothing (CorpusError)."""
from __future__ import annotations


def shown(name: str) -> str:
    """A file name as logs and messages show it: as it is when printable, else quoted with escapes.

    A file name may hold a newline or other control characters (or undecodable bytes): printed raw, one
    could forge a log line ("x.txt\nERROR qa.index: ..."). Plain names keep their usual look.
    """
    name = str(name)
    return name if name.isprintable() else repr(name)


class IngestError(Exception):
    """A file that cannot be read or parsed; the message names the file and the reason."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{shown(source)}: {reason}")
        self.source, self.reason = source, reason


class CorpusError(Exception):
    """The corpus folder is missing, unreadable, or yields no articles."""
