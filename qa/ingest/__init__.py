"""Corpus files (.txt, .md, .json, .jsonl) -> Article records: one walk, one duplicate rule, a reader per format.

    walk.py      which files a corpus folder holds, and their fingerprint
    files.py     one file -> its articles: checks, decoding (decode.py), the reader for its format:
                 txt.py, markdown.py, records.py (.json, .jsonl); article.py builds each Article
    corpus.py    the read loop over a folder and the duplicate rule
    source.py    CorpusSource, what the index reads: FolderSource (a folder), ArticlesSource (in memory)
"""
from qa.ingest.corpus import Part, article_key, load_corpus, read_folder
from qa.ingest.errors import CorpusError, IngestError, shown
from qa.ingest.files import SUPPORTED, parse_file
from qa.ingest.source import ArticlesSource, CorpusSource, FolderSource
from qa.ingest.walk import fingerprint, list_files, walk

__all__ = ["SUPPORTED", "ArticlesSource", "CorpusError", "CorpusSource", "FolderSource", "IngestError", "Part",
           "article_key", "fingerprint", "list_files", "load_corpus", "parse_file", "read_folder", "shown",
           "walk"]
