"""The package's shape: `import qa` stays light, imports flow one way, evaluation sits on top of the runtime."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "qa"
HEAVY = ("torch", "gradio", "sentence_transformers", "ray")


def module_names() -> dict[str, Path]:
    """Every module under qa/, by dotted name (a package by its own name, for its __init__.py)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = module_names()


def _imports(node: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(imported qa module, line) for one import statement, resolved to the module it loads."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: from the module's package, up level - 1 more
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        # `from qa.x import y` loads qa.x.y when that is a module, else qa.x (y is a name in it)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    return [(name, node.lineno) for name in dict.fromkeys(names) if name.split(".")[0] == "qa"]


def import_graph(module_level_only: bool) -> dict[str, dict[str, int]]:
    """module -> {qa module it imports: line}; module level only, or also inside functions."""
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if module_level_only:  # statements run on import: the body, and inside module-level if/try blocks
            nodes, todo = [], list(tree.body)
            while todo:
                node = todo.pop()
                if isinstance(node, (ast.If, ast.Try)):
                    todo += [*node.body, *node.orelse, *getattr(node, "finalbody", []),
                             *(s for h in getattr(node, "handlers", []) for s in h.body)]
                else:
                    nodes.append(node)
        else:
            nodes = list(ast.walk(tree))
        edges: dict[str, int] = {}
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name, line in _imports(node, module, path.name == "__init__.py"):
                    if name != module:
                        edges.setdefault(name, line)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, {}):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_import_qa_loads_no_evaluation_and_no_heavy_library():
    code = ("import json, sys; import qa; "
            "print(json.dumps(sorted(m for m in sys.modules if m == 'qa.evaluation' "
            f"or m.startswith('qa.evaluation.') or m.split('.')[0] in {HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_the_graph_sees_the_imports():
    graph = import_graph(module_level_only=True)
    assert "qa.pipeline" in graph["qa"] and "qa.config" in graph["qa.cli"]
    assert "qa.index" in graph["qa.pipeline"]  # from qa import index as index_mod
    assert "qa.evaluation.datasets" in graph["qa.evaluation.squad"]


@pytest.mark.parametrize("module_level_only", [True, False], ids=["module level", "also inside functions"])
def test_no_import_cycles(module_level_only):
    cycle = find_cycle(import_graph(module_level_only))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module_level_only", [True, False], ids=["module level", "also inside functions"])
def test_only_evaluation_imports_evaluation(module_level_only):
    wrong = [f"{MODULES[m].relative_to(REPO)}:{line} imports {target}"
             for m, edges in import_graph(module_level_only).items()
             if not (m == "qa.evaluation" or m.startswith("qa.evaluation."))
             for target, line in edges.items() if target == "qa.evaluation" or target.startswith("qa.evaluation.")]
    assert wrong == []


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}, "c": {"b": 1}}) is None
