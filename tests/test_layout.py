"""The package's shape: no import cycles, no Streamlit in the library, modules of one concern."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import digitlib

PACKAGE = Path(digitlib.__file__).resolve().parent
MAX_MODULE_LINES = 450  # "about 400": one concern a module


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports anywhere in it (function bodies too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # "from . import x" imports module x
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(p) for p in paths}
    return {module_name(p): imported_modules(p, known) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None. A package's ``__init__`` importing its
    own submodules is not a cycle of the modules themselves, so edges into a package are
    followed only from outside it."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if node.startswith(nxt + "."):  # a submodule "importing" its own package's __init__
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for start in sorted(graph):
        if state.get(start) is None and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert graph["digitlib.recognizer"] >= {"digitlib.reading.pipeline", "digitlib.checkpoint"}  # the graph is real
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_module_imports_streamlit():
    offenders = [module_name(p) for p in PACKAGE.rglob("*.py")
                 if "streamlit" in {n.split(".")[0] for n in _all_imports(p)}]
    assert offenders == []


def _all_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module or "")
    return names


def test_digitlib_reads_a_photo_where_streamlit_cannot_be_imported(tmp_path, samples_dir):
    photo = sorted(Path(samples_dir).glob("*.png"))[0]
    code = (
        "import sys\n"
        "sys.modules['streamlit'] = None  # any import of it now raises ImportError\n"
        "import digitlib, digitlib.cli, digitlib.bench, digitlib.jobs, digitlib.app_support\n"
        f"reading = digitlib.Recognizer().read({str(photo)!r})\n"
        "print(reading.text)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().isdigit()


def test_modules_stay_small():
    sizes = {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {m: n for m, n in sizes.items() if n > MAX_MODULE_LINES} == {}
