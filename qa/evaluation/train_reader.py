"""The span reader's tool moved to qa.evaluation.reader; `python -m qa.evaluation.train_reader` still runs it."""
from qa.evaluation.reader.cli import main

if __name__ == "__main__":
    main()
