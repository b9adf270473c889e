"""How the code may depend on itself: no import cycle, parts and layers that import downwards
only, moto's private API in one package, operator tools that never reach local-only code, and a
Lambda package that never reaches for the tools around it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The parts of infra/, and the parts each may import besides itself: the stack client and the
#: build stand alone; the operator tools run against AWS on the stack client (and the smoke, which
#: builds and deploys the stack, on the build too); what runs only on this machine (the local
#: cloud, the emulator, demo, stress) may use all of them.
PARTS = {
    "infra.build": set(),
    "infra.stack": set(),
    "infra.ops": {"infra.stack", "infra.build"},
    "infra.local": {"infra.stack", "infra.ops", "infra.build"},
}
MOTO_INTERNALS = "infra.local.cloud.moto_internals"
#: The local cloud's layers, lowest first: each module may import only those before it (the
#: moto_internals package is one layer: its modules import each other, never a cycle).
LOCAL_CLOUD_LAYERS = [
    {"infra.local.cloud.iam_calls", "infra.local.cloud.lambda_worker"},
    {MOTO_INTERNALS},
    {"infra.local.cloud.faults"},
    {"infra.local.cloud.deployer", "infra.local.cloud.execution_environment"},
    {"infra.local.cloud.lambda_runtime"},
    {"infra.local.cloud.event_sources"},
    {"infra.local.cloud.cloud"},
    {"infra.local.cloud", "infra.local.cloud.__main__"},
]
#: What an operator runs against a deployed stack: importing it loads nothing of infra.local.
OPERATOR_ENTRY_POINTS = (
    "infra.ops.cli.app",
    "infra.ops.console.server",
    "infra.ops.console",
    "infra.ops.smoke.__main__",
)


def modules() -> dict[str, Path]:
    """Every module of the Lambda package and of infra/, by dotted name."""
    found = {}
    for base, package in ((ROOT / "functions", "ocr_fetch"), (ROOT, "infra")):
        for path in (base / package).rglob("*.py"):
            parts = path.relative_to(base).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path) -> Iterator[tuple[str, bool]]:
    """``(module, only_for_type_checking)`` for every import in the file, lazy ones included.

    ``from package import module`` imports that module (and, as every import of a submodule
    does, runs the package's ``__init__`` first: that implicit import is not counted).
    """
    known = modules()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    checking: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            checking |= {id(child) for child in ast.walk(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in checking
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{a.name}" for a in node.names]
            named = [m for m in submodules if m in known]
            for module in named or [node.module]:
                yield module, id(node) in checking
            if named and len(named) < len(submodules):
                yield node.module, id(node) in checking


def graph(*, with_type_checking: bool) -> dict[str, set[str]]:
    """Which of our modules each of our modules imports (a package import counts as its
    ``__init__``)."""
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for imported, type_only in imports(path):
            if type_only and not with_type_checking:
                continue
            if imported in known and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def part_of(name: str) -> str | None:
    return next((part for part in PARTS if name == part or name.startswith(part + ".")), None)


def layer_of(name: str) -> int:
    """The local cloud layer a module is in (a moto_internals module is in its package's)."""
    name = MOTO_INTERNALS if name.startswith(MOTO_INTERNALS + ".") else name
    return next(i for i, layer in enumerate(LOCAL_CLOUD_LAYERS) if name in layer)


def test_the_scan_sees_the_modules_and_their_imports() -> None:
    edges = graph(with_type_checking=True)
    assert MOTO_INTERNALS in edges["infra.local.cloud.cloud"]
    assert "ocr_fetch.errors" in edges["ocr_fetch.client"]
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert part_of("infra.ops.cli.app") == "infra.ops"
    assert part_of("infra.opsx") is None


def test_there_is_no_import_cycle() -> None:
    # Runtime imports and type-only ones alike: a cycle in either is a tangle.
    assert find_cycle(graph(with_type_checking=True)) is None


def test_the_lambda_package_imports_nothing_of_the_tools_around_it() -> None:
    for name, targets in graph(with_type_checking=True).items():
        if name.startswith("ocr_fetch"):
            assert not {t for t in targets if t.startswith("infra")}, name


def test_every_module_of_infra_is_in_one_of_its_parts() -> None:
    loose = {name for name in modules() if name.startswith("infra.") and not part_of(name)}
    assert not loose, f"modules outside infra's parts: {sorted(loose)}"


@pytest.mark.parametrize("part", sorted(PARTS))
def test_the_parts_of_infra_import_downwards_only(part: str) -> None:
    allowed = {part, *PARTS[part]}
    for name, targets in graph(with_type_checking=True).items():
        if part_of(name) != part:
            continue
        upward = {t for t in targets if t.startswith("infra.") and part_of(t) not in allowed}
        assert not upward, f"{name} imports {upward}, outside {sorted(allowed)}"


def test_operator_tools_and_the_stack_client_never_reach_local_only_code() -> None:
    # Directly or through anything they import: a tool run against AWS must not need the local
    # cloud, the emulator or moto to start.
    edges = graph(with_type_checking=True)
    for name in edges:
        if part_of(name) in ("infra.ops", "infra.stack"):
            local = {m for m in reachable(edges, name) if part_of(m) == "infra.local"}
            assert not local, f"{name} reaches {sorted(local)}"


def test_importing_an_operator_tool_loads_no_local_only_module() -> None:
    # What actually runs: a fresh interpreter imports the tools, then lists what it loaded.
    script = (
        "import importlib, json, sys\n"
        f"for name in {list(OPERATOR_ENTRY_POINTS)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'moto'\n"
        "    or m == 'infra.local' or m.startswith('infra.local.'))))\n"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize("layer", range(len(LOCAL_CLOUD_LAYERS)))
def test_the_local_cloud_imports_downwards_only(layer: int) -> None:
    edges = graph(with_type_checking=True)
    local = {name for name in edges if name.startswith("infra.local.cloud")}
    for name in local:
        layer_of(name)  # every module is in a layer (StopIteration otherwise)
    for name in (n for n in local if layer_of(n) == layer):
        upward = {
            t
            for t in edges[name]
            if t in local and layer_of(t) >= layer and not _inside_moto(name, t)
        }
        assert not upward, f"{name} imports {upward}, which are not below it"


def _inside_moto(name: str, target: str) -> bool:
    """One moto_internals module importing another (its package is one layer)."""
    return all(n.startswith(MOTO_INTERNALS + ".") or n == MOTO_INTERNALS for n in (name, target))


def test_only_moto_internals_touches_moto() -> None:
    for name, path in modules().items():
        reached = {imported for imported, _ in imports(path) if imported.split(".")[0] == "moto"}
        inside = name == MOTO_INTERNALS or name.startswith(MOTO_INTERNALS + ".")
        assert inside or not reached, f"{name} imports {reached}"


def test_the_console_stands_on_the_stack_client_and_the_drawing_never_on_the_cli() -> None:
    edges = graph(with_type_checking=True)
    console = {name for name in edges if name.startswith("infra.ops.console")}
    assert "infra.ops.console.server" in console
    assert "infra.ops.drawing" in reachable(edges, "infra.ops.console.pages")
    for name in console:
        above = {m for m in reachable(edges, name) if m.startswith("infra.ops.cli")}
        assert not above, f"{name} reaches {above}"
    # Of the local cloud, only the program `make local` runs (its composition root) starts it.
    for name in edges:
        if name.startswith("infra.local.cloud") and name != "infra.local.cloud.__main__":
            assert not {t for t in edges[name] if t.startswith("infra.ops.console")}, name
