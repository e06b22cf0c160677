"""qa: offline question answering over a folder of news articles."""
from qa.config import Settings, load_settings
from qa.pipeline import QA, QuestionError, ask, warm_up
from qa.types import Answer, Article, Hit, Passage

__all__ = ["QA", "Answer", "Article", "Hit", "Passage", "QuestionError", "Settings", "ask",
           "load_settings", "warm_up"]
__version__ = "0.1.0"
