"""BM25 over passages: bm25s's tokenizer; the score matrix, its files and the scoring are ours.

The matrix is bm25s's "lucene" BM25 (what bm25s.BM25.index computes; tests hold the two together),
computed with numpy from each passage's term counts, which are saved beside it. An update then tokenizes
only new passages and recomputes the matrix from the stored counts: tokenizing is the expensive part.
Only bm25s's public tokenize() is called: no bm25s object state is written or read, so a bm25s upgrade
cannot misread an index. The folder keeps the layout bm25s.BM25.save writes, so the folders written
before (by bm25s itself) still load, and bm25s.BM25.load reads ours: a column-compressed (CSC) matrix
with a column per term (data/indices/indptr.csc.index.npy), vocab.index.json, params.index.json.
"""
from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.index.ondisk import DiskArray

logger = logging.getLogger(__name__)

K1, B = 1.5, 0.75  # bm25s defaults
PLACEHOLDER = "\u2400"  # bm25s cannot index an empty vocabulary; this stands in for it
DOCS_FILE = "doc_terms.npz"  # per-passage term ids and counts (CSR), in the bm25s vocabulary's ids


@functools.lru_cache(maxsize=1)
def stemmer():
    """The English Snowball stemmer (PyStemmer), created once."""
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lowercased, English-stopword-free, Snowball-stemmed tokens of each text."""
    import bm25s

    if not texts:
        return []
    return bm25s.tokenize(list(texts), lower=True, stopwords="en", stemmer=stemmer(),
                          return_ids=False, show_progress=False)


class DocTerms:
    """Term ids and counts of each document, CSR layout (doc i: terms[indptr[i]:indptr[i+1]])."""

    def __init__(self, indptr: np.ndarray, terms: np.ndarray, counts: np.ndarray, vocab: list[str]):
        self.indptr, self.terms, self.counts, self.vocab = indptr, terms, counts, vocab

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> "DocTerms":
        """Tokenize texts and count each document's terms."""
        vocab: list[str] = []
        ids: dict[str, int] = {}
        flat, lengths = [], np.zeros(len(texts), dtype=np.int64)
        for i, tokens in enumerate(tokenize(texts)):
            for t in tokens:
                j = ids.get(t)
                if j is None:
                    j = ids[t] = len(vocab)
                    vocab.append(t)
                flat.append(j)
            lengths[i] = len(tokens)
        docs = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        return cls._count(docs, np.asarray(flat, dtype=np.int64), len(texts), vocab)

    @classmethod
    def _count(cls, docs: np.ndarray, terms: np.ndarray, n: int, vocab: list[str]) -> "DocTerms":
        width = max(len(vocab), 1)
        keys, counts = np.unique(docs * width + terms, return_counts=True)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // width, minlength=n), out=indptr[1:])
        return cls(indptr, (keys % width).astype(np.int32), counts.astype(np.int32), vocab)

    def take(self, rows: np.ndarray) -> "DocTerms":
        """The documents at `rows`, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        pick = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return DocTerms(indptr, self.terms[pick], self.counts[pick], self.vocab)

    @staticmethod
    def concat(parts: Sequence["DocTerms"], vocab: list[str]) -> "DocTerms":
        """Documents of all parts in order (all parts must use ids of `vocab`)."""
        parts = [p for p in parts if len(p)] or [DocTerms(np.zeros(1, np.int64), np.zeros(0, np.int32),
                                                          np.zeros(0, np.int32), vocab)]
        lengths = np.concatenate([np.diff(p.indptr) for p in parts])
        indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return DocTerms(indptr, np.concatenate([p.terms for p in parts]),
                        np.concatenate([p.counts for p in parts]), vocab)

    def grouped(self, group: np.ndarray, n: int) -> "DocTerms":
        """Documents made of consecutive groups of these (row i joins group[i]): term counts summed per group."""
        group = np.asarray(group, dtype=np.int64)
        if len(group) != len(self):
            raise ValueError(f"{len(group)} group numbers for {len(self)} documents")
        width = max(len(self.vocab), 1)
        doc_of = np.repeat(group, np.diff(self.indptr))
        keys, inverse = np.unique(doc_of * width + self.terms.astype(np.int64), return_inverse=True)
        counts = np.bincount(inverse, weights=self.counts, minlength=len(keys)).astype(np.int32)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // width, minlength=n), out=indptr[1:])
        return DocTerms(indptr, (keys % width).astype(np.int32), counts, self.vocab)

    def compact(self) -> "DocTerms":
        """Drop vocabulary entries no document uses (and renumber the rest)."""
        used = np.flatnonzero(np.bincount(self.terms, minlength=len(self.vocab)))
        remap = np.full(len(self.vocab) + 1, -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return DocTerms(self.indptr, remap[self.terms], self.counts, [self.vocab[i] for i in used.tolist()])

    def save(self, path: Path) -> None:
        """Write as one .npz of plain arrays (vocabulary as a JSON string)."""
        with open(path, "wb") as f:
            np.savez(f, indptr=self.indptr, terms=self.terms, counts=self.counts,
                     vocab=np.array(json.dumps(self.vocab, ensure_ascii=False)))

    @classmethod
    def load(cls, path: Path) -> "DocTerms":
        """Read a file written by save()."""
        with np.load(path, allow_pickle=False) as z:
            return cls(z["indptr"], z["terms"], z["counts"], json.loads(str(z["vocab"])))


DATA_FILE, INDICES_FILE, INDPTR_FILE = "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy"
VOCAB_FILE, PARAMS_FILE = "vocab.index.json", "params.index.json"
PARAMS = {"k1": K1, "b": B, "delta": 0.5, "method": "lucene", "idf_method": "lucene", "dtype": "float32",
          "int_dtype": "int32"}  # what bm25s.BM25.save records for the BM25 computed here


@dataclass(frozen=True)
class ScoreMatrix:
    """BM25 score of each (term, passage) pair: column t holds passages indices[indptr[t]:indptr[t+1]]."""

    data: np.ndarray  # float32 scores
    indices: np.ndarray  # int32 passage rows
    indptr: np.ndarray  # int64, one more entry than terms
    vocab: dict[str, int]  # term -> column ("" names an empty column past the last, as in bm25s)
    num_docs: int

    @classmethod
    def from_docs(cls, docs: DocTerms) -> "ScoreMatrix":
        """The lucene BM25 matrix of the documents' term counts."""
        n, vocab = len(docs), list(docs.vocab)
        doc_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(docs.indptr))
        terms, counts = docs.terms.astype(np.int64), docs.counts.astype(np.float64)
        if not len(vocab):  # nothing to index: one placeholder token per passage keeps the rows aligned
            vocab, terms, doc_of, counts = [PLACEHOLDER], np.zeros(n, np.int64), np.arange(n), np.ones(n)
        doc_len = np.bincount(doc_of, weights=counts, minlength=n)
        avg = float(doc_len.mean()) if n else 1.0
        df = np.bincount(terms, minlength=len(vocab)).astype(np.float64)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        tfc = counts / (K1 * ((1 - B) + B * doc_len[doc_of] / avg) + counts)
        scores = (idf[terms] * tfc).astype(np.float32)
        order = np.argsort(terms, kind="stable")  # by term, then by document (doc_of is ascending)
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(vocab)), out=indptr[1:])
        ids = {t: i for i, t in enumerate(vocab)}
        ids.setdefault("", len(vocab))  # as bm25s.BM25.index(create_empty_token=True)
        return cls(scores[order], doc_of[order].astype(np.int32), indptr, ids, n)

    def save(self, folder: Path) -> None:
        """Write the arrays, vocabulary and parameters in bm25s.BM25.save's layout."""
        import bm25s

        np.save(folder / DATA_FILE, self.data, allow_pickle=False)
        np.save(folder / INDICES_FILE, self.indices, allow_pickle=False)
        np.save(folder / INDPTR_FILE, self.indptr, allow_pickle=False)
        (folder / VOCAB_FILE).write_text(json.dumps(self.vocab, ensure_ascii=False, separators=(",", ":")),
                                         encoding="utf-8")
        # the bm25s version whose tokenizer made the terms
        params = {**PARAMS, "num_docs": self.num_docs, "version": bm25s.__version__, "backend": "numpy"}
        (folder / PARAMS_FILE).write_text(json.dumps(params, indent=4))

    @classmethod
    def load(cls, folder: Path, lazy: bool = True) -> "ScoreMatrix":
        """Read a folder written by save() or by bm25s.BM25.save; ValueError if it scores another BM25.

        `lazy` leaves the arrays on disk and reads the columns a query needs (with pread, never a memory
        map: see qa.index.ondisk); otherwise they are read into memory.
        """
        params = json.loads((folder / PARAMS_FILE).read_text())
        if not isinstance(params, dict) or any(params.get(k, v) != v for k, v in PARAMS.items()):
            raise ValueError(f"{folder / PARAMS_FILE}: not the BM25 scored here ({PARAMS})")
        vocab = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        data, indices, indptr = (DiskArray(folder / name) if lazy else np.load(folder / name, allow_pickle=False)
                                 for name in (DATA_FILE, INDICES_FILE, INDPTR_FILE))
        n = params.get("num_docs")
        if not (isinstance(vocab, dict) and isinstance(n, int) and len(data) == len(indices) == int(indptr[-1])):
            raise ValueError(f"{folder}: BM25 files do not fit together")
        return cls(data, indices, indptr, vocab, n)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """Sum of the terms' columns (a repeated term counts again), float32 over every passage."""
        out = np.zeros(self.num_docs, dtype=np.float32)
        columns = len(self.indptr) - 1
        for t in terms:
            j = self.vocab.get(t)
            if j is not None and j < columns:
                start, stop = (int(x) for x in self.indptr[j:j + 2])
                out[self.indices[start:stop]] += self.data[start:stop]  # a column lists each passage once
        return out


class Lexical:
    """A BM25 index over passage texts, in passage order."""

    def __init__(self, matrix: ScoreMatrix, docs: DocTerms | None = None, folder: Path | None = None):
        self._matrix = matrix
        self._docs = docs
        self._folder = folder

    @classmethod
    def build(cls, texts: Sequence[str]) -> "Lexical":
        """Index the given texts (row i = passage i)."""
        docs = DocTerms.from_texts(texts).compact()
        return cls(ScoreMatrix.from_docs(docs), docs)

    @classmethod
    def rebuild(cls, old: "Lexical | None", old_rows: np.ndarray, new_texts: Sequence[str]) -> "Lexical":
        """An index whose row i is old's row old_rows[i], or (where that is -1) the next of new_texts.

        Only new_texts are tokenized; old rows reuse their stored term counts.
        """
        old_rows = np.asarray(old_rows, dtype=np.int64)
        old_docs = old.doc_terms() if old is not None else None
        if old_docs is None:
            if (old_rows >= 0).any():
                raise ValueError("old rows requested but the old index keeps no term counts")
            return cls.build(new_texts)
        fresh = np.flatnonzero(old_rows < 0)
        if len(fresh) != len(new_texts):
            raise ValueError(f"{len(fresh)} new rows but {len(new_texts)} new texts")
        new_docs = DocTerms.from_texts(new_texts)
        vocab = list(old_docs.vocab)  # extended by the new texts' tokens; ids of old tokens stay
        ids = {t: i for i, t in enumerate(vocab)}
        remap = np.zeros(len(new_docs.vocab), dtype=np.int32)
        for j, t in enumerate(new_docs.vocab):
            remap[j] = ids.setdefault(t, len(ids))
            if remap[j] == len(vocab):
                vocab.append(t)
        new_docs = DocTerms(new_docs.indptr, remap[new_docs.terms], new_docs.counts, vocab)
        # documents in row order: old ones gathered, new ones taken in turn
        source = np.where(old_rows >= 0, old_rows, len(old_docs) + np.cumsum(old_rows < 0) - 1)
        both = DocTerms.concat([DocTerms(old_docs.indptr, old_docs.terms, old_docs.counts, vocab), new_docs],
                               vocab)
        docs = both.take(source).compact()
        return cls(ScoreMatrix.from_docs(docs), docs)

    def doc_terms(self) -> DocTerms | None:
        """The per-passage term counts (loaded from disk on first use), or None for an old index."""
        if self._docs is None and self._folder is not None and (self._folder / DOCS_FILE).is_file():
            self._docs = DocTerms.load(self._folder / DOCS_FILE)
        return self._docs

    def save(self, folder: Path) -> None:
        """Write the score matrix and the term counts into `folder`."""
        self._matrix.save(folder)
        docs = self.doc_terms()
        if docs is not None:
            docs.save(folder / DOCS_FILE)

    def articles(self, row_article: np.ndarray, n: int) -> "Lexical | None":
        """BM25 over whole articles (row i belongs to article row_article[i]), from these passages' term counts.

        An article's counts are its passages' summed (the one sentence passages share is counted twice), so
        no text is tokenized again. None when this index keeps no term counts.
        """
        docs = self.doc_terms()
        if docs is None or len(row_article) != len(docs):
            return None
        return Lexical(ScoreMatrix.from_docs(docs.grouped(row_article, n)))

    @classmethod
    def load(cls, folder: Path, lazy: bool = True) -> "Lexical":
        """Load an index written by save() (`lazy`: the score matrix stays on disk, read per query)."""
        return cls(ScoreMatrix.load(Path(folder), lazy=lazy), folder=Path(folder))

    def damaged(self) -> str | None:
        """Why the score matrix files on disk can no longer be read as loaded, or None."""
        m = self._matrix
        return next((why for a in (m.data, m.indices, m.indptr) if isinstance(a, DiskArray) and (why := a.damaged())),
                    None)

    @property
    def size(self) -> int:
        """Number of indexed passages."""
        return self._matrix.num_docs

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for the query (zeros when no query term is known)."""
        return self._matrix.scores(tokenize([query])[0])
