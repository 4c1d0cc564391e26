"""The layers of the code base, read from the source (lazy imports inside functions too):
the core imports neither the command line nor the GUI, the forward pass and precision sit
below the models and the guard, the model package's modules read packages without
importing each other in a circle, and no module reaches into another's private names.
See docs/architecture.md for the drawing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pneumonet_core", "pneumonet_gui", "pneumonet_cli")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the file, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _targets(module: str, names: list[str]) -> set[str]:
    """The project modules an import reaches (``from pkg import mod`` reaches ``pkg.mod``)."""
    subs = {f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES}
    return subs or {module}


# Parsed once, at collection: CPython 3.11.7's ast.parse can fail with "AST constructor
# recursion depth mismatch" when called later in a process that has run TensorFlow threads.
IMPORT_LISTS = {name: _imports(path) for name, path in MODULES.items()}
IMPORTS = {name: {t for module, names in imports for t in _targets(module, names)}
           for name, imports in IMPORT_LISTS.items()}

#: (modules under this prefix, may not import anything under these prefixes)
FORBIDDEN = (
    ("pneumonet_core", ("pneumonet_gui", "pneumonet_cli", "PySide6", "shiboken6")),
    ("pneumonet_gui", ("pneumonet_cli",)),
    ("pneumonet_core.runtime", ("pneumonet_core.models", "pneumonet_core.ood", "pneumonet_core.inference",
                                "pneumonet_core.training", "pneumonet_core.evaluation")),
    ("pneumonet_core.models", ("pneumonet_core.ood", "pneumonet_core.inference", "pneumonet_core.training",
                               "pneumonet_core.evaluation", "pneumonet_core.reports", "pneumonet_core.dicom_node")),
    # (ood.fitting's fit_folder, ``pneumonet guard fit``, reads a labelled folder through evaluation.)
    ("pneumonet_core.ood", ("pneumonet_core.inference", "pneumonet_core.training", "pneumonet_core.reports",
                            "pneumonet_core.dicom_node")),
    ("pneumonet_core.models.archive", ("pneumonet_core.models.package", "pneumonet_core.models.signing",
                                       "pneumonet_core.models.registry")),
    ("pneumonet_core.models.signing", ("pneumonet_core.models.package",)),
    ("pneumonet_core.models.registry", ("pneumonet_core.models.package", "pneumonet_core.models.signing")),
)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize(("layer", "forbidden"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_a_layer_imports_nothing_above_it(layer, forbidden):
    wrong = sorted(f"{name} imports {target}" for name, targets in IMPORTS.items() if _under(name, layer)
                   for target in targets if any(_under(target, f) for f in forbidden))
    assert not wrong, "\n".join(wrong)


#: Imports made at call time on purpose, each with its reason. Classifier.load is the one
#: model loader: it returns the LiteRT subclass, whose module must import the base class.
CALL_TIME_EDGES = {("pneumonet_core.inference.classifier", "pneumonet_core.inference.litert_runtime")}


def test_the_core_has_no_import_cycles():
    graph = {name: {t for t in targets if t in MODULES and t != name and (name, t) not in CALL_TIME_EDGES}
             for name, targets in IMPORTS.items() if _under(name, "pneumonet_core")}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = 1
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target] if target in path else [name, target]
            if target not in state and (cycle := visit(target, path + [target])):
                return cycle
        state[name] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            assert cycle is None, " -> ".join(cycle)


def test_no_module_imports_another_modules_private_names():
    wrong = sorted(f"{name}: from {module} import {n}" for name, imports in IMPORT_LISTS.items()
                   for module, names in imports if module.startswith(PACKAGES)
                   for n in names if n.startswith("_") and not n.startswith("__"))
    assert not wrong, "\n".join(wrong)


def test_the_checks_see_the_imports_they_police():
    # The cycle the forward pass once made, and a lazy import inside a function, are both read.
    assert "pneumonet_core.runtime.predict" in IMPORTS["pneumonet_core.ood.features"]
    assert "pneumonet_core.models.signing" in IMPORTS["pneumonet_core.models.package"]
    assert any(_under(t, "pneumonet_gui") for t in IMPORTS["pneumonet_cli.gui_cmd"])
