"""The layout rules of docs/architecture.md, checked on the source (nothing is imported).

Each rule is one test over the three libraries; a failure lists every offending place.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("calibration", "exporters", "mocap")
MAX_MODULE_LINES = 500
MAX_FUNCTION_CODE_LINES = 60
ERROR_MODULES = {"calibration.errors", "exporters.errors", "mocap.errors"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _package_of(name: str) -> str:
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def _imports(name: str):
    """``(target module, imported name or None, line)`` of every import in module ``name``,
    at any depth (imports inside functions count), resolved to modules of the project."""
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(name).split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    yield f"{target}.{alias.name}", None, node.lineno
                elif target in MODULES:
                    yield target, alias.name, node.lineno


def _code_lines(node: ast.AST, lines: list[str]) -> int:
    """Lines of a function that hold code: no blank line, comment or docstring."""
    skip: set[int] = set()
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        skip = set(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(1 for i in range(node.lineno, node.end_lineno + 1)
               if i not in skip and lines[i - 1].strip() and not lines[i - 1].strip().startswith("#"))


def test_no_module_over_500_lines():
    big = {n: len(p.read_text().splitlines()) for n, p in MODULES.items()}
    assert {n: k for n, k in big.items() if k > MAX_MODULE_LINES} == {}


def test_no_function_over_60_lines_of_code():
    long = {}
    for name, tree in TREES.items():
        lines = MODULES[name].read_text().splitlines()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = _code_lines(node, lines)
                if n > MAX_FUNCTION_CODE_LINES:
                    long[f"{name}.{node.name}:{node.lineno}"] = n
    assert long == {}


def test_no_private_name_imported_from_another_module():
    found = [f"{name}:{line} imports {target}.{what}" for name in MODULES
             for target, what, line in _imports(name)
             if what and what.startswith("_") and not what.startswith("__")]
    assert found == []


def test_no_import_cycle():
    graph = {name: {t for t, _, _ in _imports(name) if t != name} for name in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_error_classes_only_in_the_errors_modules():
    def is_error(cls: ast.ClassDef) -> bool:
        names = [cls.name] + [getattr(b, "id", getattr(b, "attr", "")) for b in cls.bases]
        return any(n.endswith(("Error", "Exception")) for n in names)
    found = [f"{name}.{node.name}" for name, tree in TREES.items() if name not in ERROR_MODULES
             for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and is_error(node)]
    assert found == []


@pytest.mark.parametrize("library, forbidden", [
    ("calibration", ("mocap", "exporters")),
    ("exporters", ("mocap", "calibration")),
])
def test_libraries_stand_alone(library, forbidden):
    found = [f"{name}:{line} imports {target}" for name in MODULES if name.split(".")[0] == library
             for target, _, line in _imports(name) if target.split(".")[0] in forbidden]
    assert found == []


def test_calibration_tests_import_nothing_from_mocap():
    found = []
    for path in sorted((ROOT / "tests" / "calibration").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] == "mocap"]
    assert found == []


def test_only_the_app_layer_reads_argv():
    found = [f"{name}:{node.lineno}" for name, tree in TREES.items()
             if not name.startswith("mocap.app") for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr == "argv"
             and isinstance(node.value, ast.Name) and node.value.id == "sys"]
    assert found == []


def test_only_the_app_layer_imports_the_app_layer():
    """Stages, the core and the studio know no session folder: none imports mocap.app."""
    found = [f"{name}:{line} imports {target}" for name in MODULES
             if not name.startswith("mocap.app")
             for target, _, line in _imports(name) if target.startswith("mocap.app")]
    assert found == []
