"""The CLI's layers import downwards only; rich stays in ``output`` and typer in what reads the
command line, and no function's package (``ocr_fetch``) reaches any of it."""

from __future__ import annotations

import pytest

from tests.test_architecture import graph, imports, modules

CLI_LAYERS = [
    {"infra.ops.cli.errors"},
    {"infra.ops.cli.inputs"},
    {"infra.ops.cli.views"},
    {"infra.ops.cli.target"},
    {"infra.ops.cli.actions", "infra.ops.cli.backfill"},
    {"infra.ops.cli.output", "infra.ops.cli.failures"},
    {"infra.ops.cli.invocation"},
    {"infra.ops.cli.ending"},
    {
        "infra.ops.cli.commands",
        "infra.ops.cli.commands.submit",
        "infra.ops.cli.commands.tasks",
        "infra.ops.cli.commands.dlq",
        "infra.ops.cli.commands.backfill",
        "infra.ops.cli.commands.breaker",
    },
    {"infra.ops.cli.app"},
    {"infra.ops.cli.__main__"},
]
#: rich draws (``output``); typer reads the command line (the rest of these).
PRESENTATION = {
    "infra.ops.cli.output",
    "infra.ops.cli.failures",
    "infra.ops.cli.invocation",
    "infra.ops.cli.ending",
    "infra.ops.cli.commands.submit",
    "infra.ops.cli.commands.tasks",
    "infra.ops.cli.commands.dlq",
    "infra.ops.cli.commands.backfill",
    "infra.ops.cli.commands.breaker",
    "infra.ops.cli.app",
}


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return graph(with_type_checking=True)


@pytest.mark.parametrize("layer", range(len(CLI_LAYERS)))
def test_the_cli_imports_downwards_only(edges: dict[str, set[str]], layer: int) -> None:
    cli = {name for name in edges if name.startswith("infra.ops.cli")}
    assert cli == {"infra.ops.cli", *set().union(*CLI_LAYERS)}, "a module is missing"
    below = set().union(*CLI_LAYERS[:layer]) | {"infra.ops.cli", "infra.ops.cli.commands"}
    for name in CLI_LAYERS[layer]:
        upward = {t for t in edges[name] if t in cli and t not in below}
        assert not upward, f"{name} imports {upward}, which are not below it"


def test_typer_and_rich_only_in_the_presentation_layers() -> None:
    for name, path in modules().items():
        libraries = {imported.split(".")[0] for imported, _ in imports(path)}
        if libraries & {"typer", "rich"}:
            assert name in PRESENTATION, name


def test_the_drawing_and_the_stack_client_know_nothing_of_the_cli(
    edges: dict[str, set[str]],
) -> None:
    for name in ("infra.ops.drawing", "infra.stack.session", "infra.local.samples"):
        assert not {t for t in edges[name] if t.startswith("infra.ops.cli")}, name
