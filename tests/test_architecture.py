"""The layers of the package, as its imports show them (docs/architecture.md).

Read from the source with ``ast``, so a lazy import inside a function counts
too. Each module belongs to one layer; it may import its own layer and the
layers below, never above. The adapters sit side by side: none imports
another. Nothing a request runs through imports the test helpers or the
operations tools.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import drf_ratelimit

PACKAGE = Path(drf_ratelimit.__file__).parent

#: Lowest first. A module's layer is that of its longest listed prefix.
LAYERS: dict[str, int] = {
    "drf_ratelimit": 0,  # __init__: the method sentinels and the version
    "drf_ratelimit.exceptions": 0,
    "drf_ratelimit.usage": 0,
    "drf_ratelimit.clock": 0,
    "drf_ratelimit._spec": 0,
    "drf_ratelimit._algorithms": 1,
    "drf_ratelimit.conf": 2,
    "drf_ratelimit.signals": 2,
    "drf_ratelimit.headers": 2,
    "drf_ratelimit._request": 3,
    "drf_ratelimit._storage": 3,
    "drf_ratelimit.cluster": 3,  # cache backends for Redis Cluster
    "drf_ratelimit._engine": 4,
    "drf_ratelimit.core": 5,
    "drf_ratelimit.decorators": 5,
    "drf_ratelimit.throttles": 5,
    "drf_ratelimit.middleware": 5,
    "drf_ratelimit.openapi": 6,
    "drf_ratelimit._ops": 6,
    "drf_ratelimit.testing": 7,
    "drf_ratelimit.management": 7,
    "drf_ratelimit.apps": 7,
    "drf_ratelimit.pytest_plugin": 8,
}
ADAPTERS = {
    "drf_ratelimit.core",
    "drf_ratelimit.decorators",
    "drf_ratelimit.throttles",
    "drf_ratelimit.middleware",
}
#: What no module on the request path may import.
OFF_THE_REQUEST_PATH = ("drf_ratelimit.testing", "drf_ratelimit._ops", "drf_ratelimit.management")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    prefixes = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return LAYERS[max(prefixes, key=len)]


def owner(module: str) -> str:
    """The listed unit a module belongs to (a subpackage, or the module itself)."""
    prefixes = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return max(prefixes, key=len)


def imports_of(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in MODULES}


def test_every_module_has_a_layer() -> None:
    assert len(MODULES) > 30
    for module in MODULES:
        assert layer_of(module) >= 0


@pytest.mark.parametrize("module", sorted(MODULES))
def test_dependencies_point_down(module: str) -> None:
    mine = layer_of(module)
    upward = {
        imported: layer_of(imported) for imported in imports_of(module) if layer_of(imported) > mine
    }
    assert upward == {}, f"{module} (layer {mine}) imports from above: {upward}"


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_no_adapter_imports_another(adapter: str) -> None:
    others = {owner(imported) for imported in imports_of(adapter)} & (ADAPTERS - {adapter})
    assert others == set(), f"{adapter} imports the adapters {others}"


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if layer_of(m) <= LAYERS["drf_ratelimit.middleware"])
)
def test_the_request_path_imports_no_test_or_ops_tool(module: str) -> None:
    tools = {i for i in imports_of(module) if i.startswith(OFF_THE_REQUEST_PATH)}
    assert tools == set(), f"{module} imports {tools}"


def test_the_layer_rules_can_fail() -> None:
    """The control: an upward import is seen (the test above could fail)."""
    assert layer_of("drf_ratelimit._storage.redis") < layer_of("drf_ratelimit._engine.plan")
    assert "drf_ratelimit._storage" in imports_of("drf_ratelimit._engine.plan")
    assert owner("drf_ratelimit._engine.plan") == "drf_ratelimit._engine"


def test_each_algorithm_ships_its_script() -> None:
    """One module and one Lua script per algorithm, side by side."""
    folder = PACKAGE / "_algorithms"
    scripts = {path.stem for path in folder.glob("*.lua")} - {"clock"}  # a shared prelude
    assert scripts == {"fixed_window", "sliding_window", "token_bucket", "sliding_log"}
    assert all((folder / f"{name}.py").exists() for name in scripts)
