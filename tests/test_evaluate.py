"""Question-set loading, summaries, reports and the eval command (hash encoder), plus real-model floors."""
import json
from pathlib import Path

import pytest

from qa import QA, load_settings
from qa.cli import main
from qa.evaluation.datasets import Case, datasets_dir, load_benchmark, load_questions
from qa.evaluation.questions import CaseResult, by_category, misses, run, summarize
from qa.evaluation.report import table, write_report
from qa.ingest import ArticlesSource

ROOT = Path(__file__).resolve().parent.parent
DATASETS = datasets_dir()


def _result(case, sources, texts=("",), prediction=None, abstained=False):
    return CaseResult(case, tuple(sources), tuple(texts), prediction, abstained, 0.5, 10.0)


def test_load_jsonl_and_csv(tmp_path):
    jl = tmp_path / "q.jsonl"
    jl.write_text('{"question": "Who?", "answers": ["Ann"], "source": "a.txt", "category": "who"}\n\n'
                  '{"turns": ["Who?", "and then?"], "answers": [], "category": "followup"}\n')
    cases = load_questions(jl)
    assert cases[0] == Case("Who?", ("Ann",), "a.txt", "who")
    assert cases[1].question == "and then?" and cases[1].turns == ("Who?",) and not cases[1].answerable
    csv = tmp_path / "q.csv"
    csv.write_text("question,answers,source,category\nWho?,Ann|Anne,a.txt,who\n")
    assert load_questions(csv)[0].answers == ("Ann", "Anne")


@pytest.mark.parametrize("content, message", [
    ("{not json}\n", "q.jsonl:1: not JSON"),
    ('{"answers": ["x"]}\n', "q.jsonl:1: no question"),
    ("", "no questions in"),
])
def test_bad_question_sets_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "q.jsonl"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_questions(path)


def test_summarize_hand_computed():
    a = Case("q1", ("Ann",), "a.txt", "who")
    b = Case("q2", ("1999",), "b.txt", "when")
    u = Case("q3", (), "", "unanswerable")
    results = [
        _result(a, ["a.txt", "b.txt"], ["Ann went home", "x"], prediction="Ann"),
        _result(b, ["a.txt", "c.txt", "b.txt"], ["no", "no", "in 1999"], prediction="2000"),
        _result(u, ["a.txt"], ["x"], prediction=None, abstained=True),
    ]
    s = summarize(results)
    assert s["questions"] == 3 and s["answerable"] == 2
    assert s["hit@1"] == 0.5 and s["hit@3"] == 1.0
    assert s["mrr@10"] == pytest.approx((1 + 1 / 3) / 2, abs=1e-4)
    assert s["answer_in@1"] == 0.5 and s["answer_in@5"] == 1.0
    assert s["em"] == 0.5 and s["f1"] == 0.5
    assert s["abstain_precision"] == 1.0 and s["abstain_recall"] == 1.0
    assert set(by_category(results)) == {"who", "when", "unanswerable"}
    missed = misses(results)
    assert [m["question"] for m in missed] == ["q2"]


def test_report_files(tmp_path):
    rows = {"hybrid": {"hit@1": 0.5, "hit@5": 0.9, "hit@10": 1.0, "questions": 2}}
    write_report(tmp_path / "r.md", "T", rows, {}, [{"question": "q", "expected": ["a"], "expected_source": "s",
                                                     "got": "b", "got_source": "t", "first_passage": "p"}], "cmd")
    text = (tmp_path / "r.md").read_text()
    assert "| hybrid |" in text and "![recall@k](r.png)" in text and "**q**" in text
    assert (tmp_path / "r.png").stat().st_size > 1000
    assert "hit@1" in table(rows)


def test_eval_command_json_and_all_modes(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Bridge opens\n\n2021-05-02\n\nThe new river bridge opened on Sunday.\n")
    (corpus / "b.txt").write_text("Bakery wins\n\n2022-01-09\n\nA small bakery won the bread prize.\n")
    qs = tmp_path / "q.jsonl"
    qs.write_text('{"question": "Which bakery won the bread prize?", "answers": ["small bakery"], '
                  '"source": "b.txt", "category": "what"}\n')
    args = ["eval", str(qs), "--corpus", str(corpus), "--index", str(tmp_path / "idx"), "--model", "hash"]
    assert main(args + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["results"]["q.jsonl"]["hit@1"] == 1.0
    assert main(args + ["--mode", "all", "--report", str(tmp_path / "rep.md")]) == 0
    out = capsys.readouterr().out
    assert all(f"[{m}]" in out for m in ("hybrid", "dense", "bm25"))
    assert (tmp_path / "rep.png").exists()


@pytest.mark.slow
def test_seed_set_floors(tmp_path):
    """Regression floors well below the measured figures (see README), with the real model."""
    qa = QA(load_settings(corpus_dir=ROOT / "corpus", index_dir=tmp_path / "idx"))
    s = summarize(run(qa, load_questions(ROOT / "eval" / "seed.jsonl"), k=5))
    assert s["hit@1"] >= 0.9
    assert s["answer_in@5"] >= 0.8


@pytest.mark.slow
@pytest.mark.skipif(not (DATASETS / "squad-v1.1-dev").is_dir(),
                    reason=f"SQuAD dev not found in {DATASETS} (set QA_DATASETS_DIR)")
def test_squad_sample_floor(tmp_path):
    """A 150-paragraph slice of SQuAD dev: retrieval floors well below the full-benchmark figures."""
    articles, cases, fp = load_benchmark("squad", DATASETS)
    keep = {a.source for a in articles[:150]}
    articles = [a for a in articles if a.source in keep]
    cases = [c for c in cases if c.source in keep][::10]
    qa = QA(load_settings(index_dir=tmp_path / "idx"), source=ArticlesSource(articles, {"squad150": [fp]}))
    s = summarize(run(qa, cases, k=5, read=False), read=False)
    assert s["hit@1"] >= 0.6 and s["hit@5"] >= 0.85


def test_question_date_is_read_and_checked(tmp_path):
    from qa.evaluation.datasets import load_questions

    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Who won?", "answers": ["X"], "question_date": "2022-06-17"}\n'
                    '{"question": "Who lost?"}\n', encoding="utf-8")
    assert [c.question_date for c in load_questions(path)] == ["2022-06-17", None]
    path.write_text('{"question": "Who won?", "question_date": "June 2022"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="question_date"):
        load_questions(path)


def test_news_calibration_rows_come_from_realtimeqa_style_questions_asked_on_their_dates(tmp_path):
    from qa.config import Settings
    from qa.evaluation.fit import news_examples

    folder = tmp_path / "datasets" / "realtimeqa"
    folder.mkdir(parents=True)
    articles = [{"id": "a1", "title": "Harbour bridge opens", "date": "2024-03-02",
                 "text": "The Riverton harbour bridge opened on Saturday. It was designed by the firm Holm & Vester."},
                {"id": "a2", "title": "Storm closes port", "date": "2024-05-10",
                 "text": "A storm closed the port of Riverton for two days. Ferries stopped running on Friday."}]
    (folder / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles))
    questions = [{"question": "Which firm designed the Riverton harbour bridge?", "answers": ["Holm & Vester"],
                  "supporting": ["a1"], "question_date": "2024-03-05", "question_id": "q1"},
                 {"question": "What closed the port of Riverton?", "answers": ["A storm"],
                  "supporting": ["a2"], "question_date": "2024-05-12", "question_id": "q2"}]
    (folder / "questions-dev.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    xs, right = news_examples(Settings(model="hash"), progress=False, datasets=tmp_path / "datasets",
                              index=tmp_path / "idx")
    assert len(xs) == len(right) == 2
    assert all(x.ndim == 2 and x.shape[0] == len(r) >= 1 for x, r in zip(xs, right))
    assert all(r.dtype == bool for r in right)
