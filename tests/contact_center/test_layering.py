"""Dependencies point one way: every first-party import obeys the layering table below.

Imports are read with ``ast`` (nothing is imported), at any depth: an import inside a function
is a dependency too, just a later one. A new exception belongs in ``EXCEPTIONS`` with its reason,
and the fix, not the exception, is the goal. The top level is the guide's fixed list: a new
package goes inside one of its packages, not next to them.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The top level the product owner's guide fixes: these packages, plus wsgi.py, Procfile and
# three directories of code that are not part of the product (tests, bench, scripts). Anything
# else goes inside one of them: a new top-level package fails test_the_top_level_is_the_guides.
GUIDE_PACKAGES = frozenset(
    {
        "contact_center",
        "ivr",
        "routing",
        "recordings",
        "transcription",
        "qa",
        "appointments",
        "journeys",
    }
)
# gunicorn.conf.py: the web server's settings (gunicorn reads it; no code imports it).
GUIDE_MODULES = frozenset({"wsgi", "gunicorn.conf"})
NOT_PACKAGES = frozenset({"tests", "bench", "scripts"})

# What each package may import besides itself. Flow (STYLE.md): ivr -> routing;
# recordings -> transcription -> qa. SMS and the lead records are parts of the core (see
# CORE_PARTS); routing takes a web lead in (speed-to-lead: routing.leads, routing.lead_views).
ALLOWED: dict[str, frozenset[str]] = {
    "contact_center": frozenset(),
    "routing": frozenset({"contact_center", "appointments"}),
    "ivr": frozenset({"contact_center", "routing", "appointments"}),
    "qa": frozenset({"contact_center", "appointments"}),
    "transcription": frozenset({"contact_center", "qa"}),
    "recordings": frozenset({"contact_center", "ivr", "transcription", "qa"}),
    # Booking: the core (tenancy, patients, settings) and the call record. Routing, ivr and qa
    # may book through appointments.services (a call's wrap-up outcome saves its appointment).
    "appointments": frozenset({"contact_center"}),
    # Follow-up journeys after a visit: read appointments, open callback tasks through routing's
    # dialer. Appointments start them by job path (no import), so appointments stays below.
    "journeys": frozenset({"contact_center", "appointments", "routing"}),
}

# Parts of the core (DESIGN.md: contact_center holds tenancy, leads, SMS conversations) that
# build on the rest of it: each imports the core's base and the parts listed, never a feature,
# never what sits above the features. The base (settings, db, tenancy, Twilio adapter, jobs,
# ...) imports no part, so a part can move or grow without a cycle in the core.
CORE_PARTS: dict[str, frozenset[str]] = {
    # conversations, the one send function, opt-out, quiet hours, PHI check, templates
    # (with the practice's acknowledgment text), delivery job and status webhook
    "contact_center.messaging": frozenset(),
    # lead records, API keys, LeadForm validation, Idempotency-Key storage and replay
    "contact_center.leads": frozenset(),
}

# The call record (Call, its timeline, typed Twilio call events; ivr.models also holds the
# consent ledger's rows): ivr creates calls, every feature that handles one reads and annotates
# it. These modules import only the core.
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
# Parts of contact_center that sit above the features; neither a feature nor the core below
# the features may import them (nor the app factory, ``contact_center`` itself).
ABOVE_FEATURES = (
    CONSOLE,
    "contact_center.cli",
    "contact_center.worker",
    "contact_center.schema",
    "contact_center.run",
    "contact_center.demo",  # seeds every feature's demo data through the console's demo_data
    "contact_center.migrations",  # Alembic's env reads the complete schema
)

# (importer, imported): why it stays for now. Each must still exist, or be removed here.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("routing.views", "ivr.services"): (
        "the queue's connect URL hands a redirected waiter to ivr's <Dial> of the coordinator"
    ),
    ("routing.views", "contact_center.web.access"): (
        "routing's console JSON endpoints use the console's login and practice check"
    ),
    # The missed-call text-back is ivr's auto-reply and reads the Call, so it cannot move into
    # the core's messaging; the fix is to have the worker (a composition root) run ivr's own
    # reconcile step instead of the dialer's reconciler doing it.
    ("transcription.jobs", "recordings.models"): "transcription reads the stored recording",
    ("transcription.jobs", "recordings.services"): "transcription reads the stored recording",
    ("transcription.jobs", "recordings.storage"): "transcription reads the stored recording",
    ("qa.outcomes", "transcription.turns"): "scoring reads transcript turns",
    ("qa.scoring", "transcription.turns"): "scoring reads transcript turns",
    ("qa.scoring", "transcription.text"): "scoring matches phrases on the turns' spoken words",
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


def core_part_of(module: str) -> str | None:
    return next((part for part in CORE_PARTS if within(module, part)), None)


def above_features(module: str) -> bool:
    return (
        module == "contact_center"
        or module in COMPOSITION_ROOTS
        or any(within(module, above) for above in ABOVE_FEATURES)
    )


def core_violation(imp: Import) -> str | None:
    """Why an import inside contact_center breaks its own layers, or None."""
    if above_features(imp.importer):
        return None  # the app factory, console, CLI, worker, schema, ...: see the whole core
    if above_features(imp.imported):
        return "the core below the features does not import what sits above them"
    part, target = core_part_of(imp.importer), core_part_of(imp.imported)
    if target is None or target == part:
        return None
    if part is None:
        return f"the core's base imports none of its parts ({target})"
    if target in CORE_PARTS[part]:
        return None
    allowed = ", ".join(sorted(CORE_PARTS[part])) or "no other part"
    return f"{part} may import the core's base and {allowed}"


def violation(imp: Import) -> str | None:
    """Why ``imp`` breaks the layering, or None when it is allowed."""
    source, target = package_of(imp.importer), package_of(imp.imported)
    if source == target == "contact_center":
        return core_violation(imp)
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
            return "features do not import what sits above them (ABOVE_FEATURES)"
        if imp.imported == "contact_center":
            return "features do not import the app factory"
        return None
    if imp.imported in CALL_RECORD or target in ALLOWED[source]:
        return None
    return f"{source} may import only {', '.join(sorted(ALLOWED[source]))} and the call record"


def test_the_layering_table_has_no_cycle() -> None:
    for table in (ALLOWED, CORE_PARTS):
        try:
            TopologicalSorter(table).prepare()
        except CycleError as exc:
            raise AssertionError(f"the layering table has a cycle: {exc.args[1]}") from exc
    assert next(iter(TopologicalSorter(ALLOWED).static_order())) == "contact_center"


def test_the_top_level_is_the_guides() -> None:
    """No top-level package or module beyond the guide's list (a namespace package counts)."""
    code = {
        path.name
        for path in ROOT.iterdir()
        if path.is_dir() and not path.name.startswith(".") and any(path.glob("*.py"))
    }
    assert code - NOT_PACKAGES == GUIDE_PACKAGES
    assert {path.stem for path in ROOT.glob("*.py")} == GUIDE_MODULES
    assert (ROOT / "Procfile").is_file()


def test_every_package_is_in_the_table_and_installed() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == set(ALLOWED) == GUIDE_PACKAGES
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert set(project["tool"]["setuptools"]["packages"]["find"]["include"]) == {
        f"{package}*" for package in ALLOWED
    }


def test_every_core_part_exists() -> None:
    for part, allowed in CORE_PARTS.items():
        assert package_of(part) == "contact_center" and is_module(part), part
        assert allowed <= set(CORE_PARTS) - {part}, part


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
