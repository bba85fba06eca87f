"""Data flows one way, and the imports must say so: core -> stage 1 -> stage 2 -> the engine
-> sample data -> serving and the lab -> the clients. A module may import its own layer and
the ones below, never one above; the top-level packages import each other without a cycle.
The map below is the picture (docs/architecture.md draws it); a new module lands in the layer
of its package unless it is listed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "sample_data", "serving", "lab", "cli", "tui", "loadtests")
NAMES = ("core", "stage 1", "stage 2", "engine", "sample data", "serving and lab", "clients")
#: module or package -> layer (the longest listed prefix decides)
LAYERS = {
    "engine": 3,  # the package's own modules: one request through both stages
    "engine.__init__": 0,
    **dict.fromkeys(
        (
            "engine.errors",
            "engine.limits",
            "engine.progress",
            "engine.config",
            "engine.layout",
            "engine.artifacts",
            "engine.data",
            "engine.events",
            "engine.event_store",
            "engine.kernels",
            "engine.runs",
            "engine.timing",
            "engine.latency",
            "engine.splits",
        ),
        0,
    ),
    **dict.fromkeys(("engine.ann", "engine.retrieval", "engine.embeddings", "engine.factorise"), 1),
    **dict.fromkeys(("engine.features", "engine.ranking", "engine.rules"), 2),
    "sample_data": 4,
    "serving": 5,
    "lab": 5,
    **dict.fromkeys(("cli", "tui", "loadtests"), 6),
}


def layer_of(module: str) -> int | None:
    owners = [prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")]
    return LAYERS[max(owners, key=len)] if owners else None


def imported(source: str) -> list[str]:
    """Every absolute import of a module's source (`from a.b import c` names a.b and a.b.c)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def upward_imports(module: str, source: str) -> list[str]:
    mine = layer_of(module)
    return sorted(
        {
            f"{module} ({NAMES[mine]}) imports {name} ({NAMES[layer]})"
            for name in imported(source)
            if mine is not None and (layer := layer_of(name)) is not None and layer > mine
        }
    )


def modules() -> dict[str, str]:
    return {
        ".".join(path.relative_to(ROOT).with_suffix("").parts): path.read_text()
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def test_no_module_imports_a_layer_above_its_own() -> None:
    found = [line for module, source in modules().items() for line in upward_imports(module, source)]
    assert not found, "upward imports:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("engine.retrieval.paths", "from engine.features.context import FeatureContext"),
        ("engine.data", "import engine.engine"),
        ("engine.rules", "from lab.evaluation import evaluate"),
        ("sample_data.synthetic", "from cli.main import main"),
    ],
)
def test_an_upward_import_is_caught(module: str, source: str) -> None:
    assert upward_imports(module, source), f"{source!r} in {module} went unnoticed"


def test_every_module_has_a_layer_and_the_packages_import_without_a_cycle() -> None:
    found = modules()
    assert all(layer_of(module) is not None for module in found)
    edges = {package: set() for package in PACKAGES}
    for module, source in found.items():
        for name in imported(source):
            target = name.split(".")[0]
            if target in edges and target != module.split(".")[0]:
                edges[module.split(".")[0]].add(target)

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in edges[start]
        )

    cycles = [package for package in PACKAGES if reaches(package, package)]
    assert not cycles, f"packages in an import cycle: {cycles}; edges: {edges}"
