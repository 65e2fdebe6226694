"""One direction of imports (../shared/ARCHITECTURE.md): every import statement in appliance/ is read, those
inside functions and under TYPE_CHECKING too, and none may point against the layers."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "appliance"
ABOVE_ALL = {"api", "console", "cli", "app", "runtime", "calling", "campaigns"}  # edges, use cases, the root
FORBIDDEN = {
    # voice declares the ports it needs (call_audio.CallMedia, CallSink); it knows no HTTP, SQL or telephony
    "voice": ABOVE_ALL | {"telephony", "store", "results", "privacy"},
    "store": ABOVE_ALL | {"telephony", "voice", "results", "privacy"},
    "telephony": ABOVE_ALL | {"results"},
    "results": ABOVE_ALL | {"telephony", "voice"},
}


def imported_packages(path: Path, package: Path = PACKAGE) -> set[tuple[str, int]]:
    """(first package under `appliance`, line) of each import in the module."""
    module = path.relative_to(package.parent).with_suffix("").parts
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = module[: len(module) - node.level] if node.level else ()
            prefix = ".".join((*base, node.module)) if node.module else ".".join(base)
            # `from appliance import validation` names modules; `from appliance.voice import x` a package
            names = [f"{prefix}.{a.name}" for a in node.names] if prefix == "appliance" else [prefix]
        for name in names:
            parts = name.split(".")
            if parts[0] == "appliance" and len(parts) > 1:
                out.add((parts[1], node.lineno))
    return out


def violations(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        layer = path.relative_to(package).parts[0].removesuffix(".py")
        for target, line in sorted(imported_packages(path, package), key=lambda found: found[1]):
            if target in FORBIDDEN.get(layer, set()):
                found.append(f"{path.relative_to(package.parent)}:{line}: {layer} imports {target}")
    return found


def test_no_module_imports_against_the_layers() -> None:
    assert violations() == []


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    """A layer test that cannot fail is no test: each way of writing an import is seen."""
    source = (
        "from appliance.telephony.media import RtpEndpoint\n"
        "import appliance.store.calls\n"
        "from ..api import app\n"
        "def f():\n    from appliance import results\n"
    )
    package = tmp_path / "appliance"
    (package / "voice").mkdir(parents=True)
    (package / "voice" / "probe.py").write_text(source)
    (package / "store").mkdir()
    (package / "store" / "rows.py").write_text("from appliance.results.schema import returns_to_schema\n")
    (package / "telephony").mkdir()
    (package / "telephony" / "line.py").write_text("from appliance.voice.call_audio import CallMedia\n")  # allowed
    assert violations(package) == [
        "appliance/store/rows.py:1: store imports results",
        "appliance/voice/probe.py:1: voice imports telephony",
        "appliance/voice/probe.py:2: voice imports store",
        "appliance/voice/probe.py:3: voice imports api",
        "appliance/voice/probe.py:5: voice imports results",
    ]
