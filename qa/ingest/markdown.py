"""The Markdown reader: YAML front matter for metadata, the first heading as title, heading marks dropped."""
from __future__ import annotations

import re

import yaml

from qa.ingest.article import make_article
from qa.ingest.errors import IngestError
from qa.types import Article

MAX_FRONT_MATTER = 64 * 1024  # characters; real front matter is a few lines


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without anchors and aliases: nested aliases expand exponentially (a few hundred bytes of
    "billion laughs" front matter took 8 GB), and article metadata never needs them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted", mark)
        return super().compose_node(parent, index)


def read_markdown(text: str, source: str) -> list[Article]:
    """The article of a Markdown file's (decoded, newline-normalised) text."""
    meta: dict = {}
    if m := re.match(r"---[ \t]*\n(.*?)^---[ \t]*(?:\n|\Z)", text, re.S | re.M):
        if len(m[1]) > MAX_FRONT_MATTER:
            raise IngestError(source, f"front matter is over {MAX_FRONT_MATTER} characters")
        loader = _NoAliasLoader(m[1])
        try:
            meta = loader.get_single_data() or {}
        except (yaml.YAMLError, RecursionError) as e:
            raise IngestError(source, f"bad YAML front matter: {' '.join(str(e).split())}") from None
        finally:
            loader.dispose()
        if not isinstance(meta, dict):
            raise IngestError(source, "front matter is not a mapping")
        meta, text = {str(k).lower(): v for k, v in meta.items()}, text[m.end():]
    if "title" not in meta and (h := re.match(r"\s*#{1,6}[ \t]+(.+?)[ \t#]*(?:\n|$)", text)):
        meta["title"], text = h[1], text[h.end():]
    return [make_article(source, 0, meta, re.sub(r"(?m)^#{1,6}[ \t]+", "", text), source)]
