"""The project's layout (DESIGN.md): who imports whom, no import cycles,
each task family in one place."""

import ast
import functools
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("custom_layers", "zoo", "training", "exports", "specialnets")
# Who may import whom: `custom_layers` nothing of ours, `zoo` only the layers.
ALLOWED = {
    "custom_layers": {"custom_layers"},
    "zoo": {"custom_layers", "zoo"},
    "training": {"custom_layers", "zoo", "training", "exports"},
    "exports": {"custom_layers", "zoo", "training", "exports"},
    "specialnets": set(PACKAGES),
}


def module_name(path):
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def project_modules():
    return {module_name(p): p for package in PACKAGES for p in (REPO / package).rglob("*.py")}


def imports_of(name, source, modules, is_package=False):
    """The project modules that module `name` (its `source`) imports, at any
    depth of its code: an import inside a function closes a cycle as surely."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:  # `from package import module` imports the module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


@functools.cache
def import_graph():
    modules = project_modules()
    return {name: imports_of(name, path.read_text(), modules, path.name == "__init__.py")
            for name, path in modules.items()}


def find_cycle(graph):
    """A list of modules that import each other in a ring, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_a_ring_and_only_a_ring():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_imports_of_resolves_submodules_relative_and_nested_imports():
    modules = {"training.tasks", "training.tasks.babi", "training.tasks.babi.reader", "zoo", "zoo.memn2n"}
    source = ("from training.tasks.babi import reader\nfrom . import reader as r\n"
              "from zoo.memn2n import PUNCTUATION\ndef later():\n    import zoo\n")
    assert imports_of("training.tasks.babi.pipeline", source, modules) == {
        "training.tasks.babi.reader", "zoo.memn2n", "zoo"}
    assert imports_of("training.tasks.babi", "from .reader import parse\n", modules,
                      is_package=True) == {"training.tasks.babi.reader"}


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_only_what_the_design_allows(package):
    wrong = {
        (name, imported)
        for name, imported_set in import_graph().items() if name.split(".")[0] == package
        for imported in imported_set if imported.split(".")[0] not in ALLOWED[package]
    }
    assert not wrong, f"{package} imports outside {sorted(ALLOWED[package])}: {sorted(wrong)}"


def test_nothing_imports_the_tests():
    for path in project_modules().values():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "tests" or n.startswith("tests.") for n in names), path


def test_each_task_lives_in_its_family():
    from training import tasks

    for name, task in tasks.TASKS.items():
        function = getattr(task.dataset, "func", task.dataset)
        assert function.__module__.startswith("training.tasks."), (name, function.__module__)
        assert function.__module__ != "training.tasks.base", name


def test_training_keeps_no_task_modules_at_its_top():
    top = {p.stem for p in (REPO / "training").glob("*.py")}
    assert top == {"__init__", "distribute", "epochs", "held_out_log", "restarts", "train", "visualize"}, top
