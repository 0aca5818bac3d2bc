"""Dependencies point one way: every first-party import obeys the layering table below.

Imports are read with ``ast`` (nothing is imported), at any depth: an import inside a function
is a dependency too, just a later one. A new exception belongs in ``EXCEPTIONS`` with its reason,
and the fix, not the exception, is the goal.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What each package may import besides itself. Flow (STYLE.md): ivr -> routing;
# recordings -> transcription -> qa. SMS (contact_center.messaging) and the lead records
# (contact_center.leads) are part of the core; routing takes a web lead in (speed-to-lead).
ALLOWED: dict[str, frozenset[str]] = {
    "contact_center": frozenset(),
    "routing": frozenset({"contact_center"}),
    "ivr": frozenset({"contact_center", "routing"}),
    "qa": frozenset({"contact_center"}),
    "transcription": frozenset({"contact_center", "qa"}),
    "recordings": frozenset({"contact_center", "ivr", "transcription", "qa"}),
}

# The call record (Call, its timeline, typed Twilio call events): ivr creates calls, every
# feature that handles one reads and annotates it. These modules import only the core.
CALL_RECORD = frozenset({"ivr.models", "ivr.timeline", "ivr.events"})

# contact_center modules that compose features (STYLE: contact_center imports features only
# inside create_app()): the function the imports must sit in, or None for anywhere. The
# console (contact_center.web) shows every feature and may import them all.
COMPOSITION_ROOTS: dict[str, str | None] = {
    "contact_center": "create_app",
    "contact_center.cli": None,  # registers every feature's commands
    "contact_center.worker": None,  # the worker's periodic jobs
    "contact_center.schema": None,  # every feature's models, for Alembic and tests
}
CONSOLE = "contact_center.web"
# Parts of contact_center that sit above the features; a feature must not import them.
ABOVE_FEATURES = (
    CONSOLE,
    "contact_center.cli",
    "contact_center.worker",
    "contact_center.schema",
    "contact_center.run",
)

# (importer, imported): why it stays for now. Each must still exist, or be removed here.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("routing.views", "ivr.services"): (
        "the queue's connect URL hands a redirected waiter to ivr's <Dial> of the coordinator"
    ),
    ("routing.views", "contact_center.web.access"): (
        "routing's console JSON endpoints use the console's login and practice check"
    ),
    ("routing.reconcile", "ivr.sms"): (
        "the dialer's reconciler also lists missed-call text-backs that never went out"
    ),
    ("routing.dialer_jobs", "ivr.jobs"): "the dialer's reconcile job re-enqueues those text-backs",
    ("transcription.jobs", "recordings.models"): "transcription reads the stored recording",
    ("transcription.jobs", "recordings.services"): "transcription reads the stored recording",
    ("transcription.jobs", "recordings.storage"): "transcription reads the stored recording",
    ("qa.outcomes", "transcription.turns"): "scoring reads transcript turns",
    ("qa.scoring", "transcription.turns"): "scoring reads transcript turns",
    ("qa.services", "transcription.models"): "scoring reads the stored transcript",
    ("qa.services", "transcription.services"): "scoring reads the stored transcript",
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    function: str | None  # the top-level function it sits in, None at module level
    line: int

    def __str__(self) -> str:
        where = f" (in {self.function})" if self.function else ""
        return f"{self.importer}:{self.line} imports {self.imported}{where}"


def package_of(module: str) -> str:
    return module.split(".")[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path) -> Iterator[Import]:
    importer = module_name(path)
    tree = ast.parse(path.read_text(), str(path))

    def visit(node: ast.AST, function: str | None) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and function is None:
                yield from visit(child, child.name)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(importer, alias.name, function, child.lineno)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    target = f"{child.module}.{alias.name}"
                    name = target if is_module(target) else child.module
                    yield Import(importer, name, function, child.lineno)
            yield from visit(child, function)

    for found in visit(tree, None):
        if package_of(found.imported) in ALLOWED:
            yield found


def first_party_imports() -> list[Import]:
    found: list[Import] = []
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            found.extend(imports_of(path))
    return found


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violation(imp: Import) -> str | None:
    """Why ``imp`` breaks the layering, or None when it is allowed."""
    source, target = package_of(imp.importer), package_of(imp.imported)
    if source == target:
        if imp.importer in CALL_RECORD and imp.imported not in CALL_RECORD:
            return "the call record depends on the core only"
        return None
    if source == "contact_center":
        if within(imp.importer, CONSOLE):
            return None
        if imp.importer not in COMPOSITION_ROOTS:
            return "the core imports no feature"
        function = COMPOSITION_ROOTS[imp.importer]
        if function is None or imp.function == function:
            return None
        return f"contact_center imports features only inside {function}()"
    if target == "contact_center":
        if any(within(imp.imported, above) for above in ABOVE_FEATURES):
            return "features do not import the console, CLI, worker or schema"
        if imp.imported == "contact_center":
            return "features do not import the app factory"
        return None
    if imp.imported in CALL_RECORD or target in ALLOWED[source]:
        return None
    return f"{source} may import only {', '.join(sorted(ALLOWED[source]))} and the call record"


def test_the_layering_table_has_no_cycle() -> None:
    try:
        order = list(TopologicalSorter(ALLOWED).static_order())
    except CycleError as exc:
        raise AssertionError(f"the layering table has a cycle: {exc.args[1]}") from exc
    assert order[0] == "contact_center"


def test_every_package_is_in_the_table_and_installed() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == set(ALLOWED)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert set(project["tool"]["setuptools"]["packages"]["find"]["include"]) == {
        f"{package}*" for package in ALLOWED
    }


def test_dependencies_point_one_way() -> None:
    found = first_party_imports()
    assert len(found) > 300  # the parser sees the code
    broken = []
    for imp in found:
        why = violation(imp)
        if why is not None and (imp.importer, imp.imported) not in EXCEPTIONS:
            broken.append(f"{imp}: {why}")
    assert broken == []


def test_every_exception_is_still_needed() -> None:
    edges = {(i.importer, i.imported) for i in first_party_imports() if violation(i)}
    assert set(EXCEPTIONS) - edges == set()
