"""The package's stages import down the pipeline only: a lower stage never imports a higher
one, so the store knows nothing of requests and the core nothing of HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "qa"

#: Each stage's place in the pipeline; a stage may import its own modules and lower stages.
STAGES = {
    "core": 0,
    "text": 1,
    "dates": 1,
    "ingest": 2,
    "embedders": 2,
    "store": 3,
    "index": 4,
    "search": 5,
    "timeline": 6,
    "answer": 7,
    "service": 8,
    "evaluation": 9,
    "web": 9,
    # Above the web layer: its tools answer with the API's models, and it mounts them on the
    # web app for `qa serve` (docs/architecture.md).
    "mcp": 10,
    "cli": 11,
}


def stage_of(module: str) -> str:
    """'qa.search.retriever' -> 'search'; 'qa.cli' -> 'cli'."""
    return module.split(".")[1]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every qa module that a file imports, at any depth (lazy imports inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "qa":
                found += [(node.lineno, f"qa.{alias.name}") for alias in node.names]
            elif node.module.startswith("qa."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("qa.")]
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def upward_imports() -> list[str]:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if module == "qa":
            continue
        own = stage_of(module)
        for line, imported in imported_modules(path):
            other = stage_of(imported)
            if other != own and STAGES[other] >= STAGES[own]:
                upward.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} ({own}) imports {imported}"
                )
    return upward


def test_every_module_belongs_to_a_known_stage():
    loose = {module_name(p) for p in PACKAGE.glob("*.py")} - {"qa"}
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages | {stage_of(m) for m in loose} <= set(STAGES)
    assert len(loose) + 1 <= 6 and len(packages) >= 6


def test_no_stage_imports_a_higher_or_sibling_stage():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path):
    """The walk finds lazy imports inside functions, as an upward import would hide there."""
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from qa.web.app import create_app\n    import qa.service\n")
    assert imported_modules(module) == [(2, "qa.web.app"), (3, "qa.service")]


def test_no_module_is_longer_than_one_sitting():
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}
