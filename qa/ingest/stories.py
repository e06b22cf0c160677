"""One story, one card: near-duplicate articles (syndicated copies, a page saved twice, a story updated
later) grouped with MinHash/LSH (datasketch) over word 5-shingles.

Two articles are one story when
- the Jaccard similarity of their word 5-shingle sets (estimated from 128 MinHash permutations) is at
  least THRESHOLD: lightly edited copies share most of their 5-word runs, follow-up stories on the same
  event (a preview and its result, the next day's update with new facts) share background but stay below;
- at least half the paragraphs of each are found (80% of their shingles) in the other: a long block that
  two different stories both carry (a photo gallery's captions, a standings table scraped into the text)
  can lift their Jaccard over the threshold, but it is one paragraph of many;
- they were published within MAX_DAYS of each other (when both dates are known): a text re-run a year
  later ("Winter solstice 2019", "... 2020") is a new story about a new event.
Groups are the connected components of such pairs; each group lists its articles most recent first, so
the first one is the version that answers by default.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from qa.types import Article

THRESHOLD = 0.7
MIN_SHARED_PARAGRAPHS = 0.5
PARAGRAPH_CONTAINED = 0.8
MAX_DAYS = 30
NUM_PERM = 128
SHINGLE = 5
_WORD = re.compile(r"\w+")


def shingles(text: str, k: int = SHINGLE) -> set[str]:
    """The set of k-word runs of `text`, lower-cased (a text shorter than k is one shingle)."""
    words = _WORD.findall(text.casefold())
    return {" ".join(words[i:i + k]) for i in range(max(1, len(words) - k + 1))} if words else set()


def signatures(texts: Sequence[str], num_perm: int = NUM_PERM) -> list:
    """A MinHash signature per text (datasketch LeanMinHash, compact and picklable)."""
    from datasketch import LeanMinHash, MinHash

    sets = [[s.encode("utf-8") for s in shingles(t)] or [b""] for t in texts]
    return [LeanMinHash(m) for m in MinHash.bulk(sets, num_perm=num_perm)]


def shared_paragraphs(a: str, b: str) -> float:
    """Share of `a`'s paragraphs (8 words or more) whose shingles are mostly (80%) found in `b`."""
    paragraphs = [p for p in re.split(r"\n\s*\n", a) if len(_WORD.findall(p)) >= 8] or [a]
    other = shingles(b)
    found = [s for p in paragraphs if (s := shingles(p))]
    return sum(len(s & other) >= PARAGRAPH_CONTAINED * len(s) for s in found) / len(found) if found else 0.0


def same_story(a: Article, b: Article, jaccard: float, threshold: float = THRESHOLD) -> bool:
    """The rule above, for two articles whose estimated Jaccard similarity is `jaccard`."""
    if jaccard < threshold:
        return False
    if a.published and b.published and abs((a.published - b.published).days) > MAX_DAYS:
        return False
    return min(shared_paragraphs(a.text, b.text), shared_paragraphs(b.text, a.text)) >= MIN_SHARED_PARAGRAPHS


def candidate_pairs(sigs: list, threshold: float = THRESHOLD) -> list[tuple[int, int, float]]:
    """Pairs (i < j) that LSH puts in a bucket together, with their estimated Jaccard similarity."""
    from datasketch import MinHashLSH

    # Buckets tuned for a lower threshold than the rule's, so pairs near it are not lost to LSH's misses.
    lsh = MinHashLSH(threshold=max(0.1, threshold - 0.15), num_perm=len(sigs[0].hashvalues) if sigs else NUM_PERM)
    pairs = []
    for i, sig in enumerate(sigs):
        pairs += [(j, i, sig.jaccard(sigs[j])) for j in lsh.query(sig)]
        lsh.insert(i, sig)
    return pairs


def group(articles: Sequence[Article], threshold: float = THRESHOLD, sigs: list | None = None) -> list[list[int]]:
    """Groups (two or more) of indices into `articles` that are one story, each most recent first."""
    if len(articles) < 2:
        return []
    sigs = sigs if sigs is not None else signatures([a.text for a in articles])
    parent = list(range(len(articles)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, jaccard in candidate_pairs(sigs, threshold):
        if root(i) != root(j) and same_story(articles[i], articles[j], jaccard, threshold):
            parent[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    for i in range(len(articles)):
        members.setdefault(root(i), []).append(i)
    newest_first = [sorted(g, key=lambda i: articles[i].published or dt.date.min, reverse=True)
                    for g in members.values() if len(g) > 1]
    return sorted(newest_first, key=lambda g: g[0])


def story_ids(articles: Sequence[Article], threshold: float = THRESHOLD) -> list[str]:
    """Per article, the id of its story: the id of the group's most recent article (its own id if alone)."""
    ids = [a.id for a in articles]
    for g in group(articles, threshold):
        for i in g:
            ids[i] = articles[g[0]].id
    return ids
