"""`python -m qa.evaluation.reader`: the span reader tool's command line."""
from qa.evaluation.reader.cli import main

main()
