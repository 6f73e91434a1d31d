"""The module map stays whole: every module's docstring says what it owns on its first line, and
docs/design-notes.md's "Module map" has a row for every module under marketdata_pipeline/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "marketdata_pipeline"
NOTES = ROOT / "docs" / "design-notes.md"


def modules(package: Path) -> list[str]:
    """Every module under `package`, named as the map names it: a package by its folder (`pool/`)."""
    names = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if path.name == "__init__.py" and path.parent != package:
            relative = relative.removesuffix("__init__.py")
        names.append(relative)
    return names


def without_first_line(package: Path) -> list[str]:
    """The modules whose docstring is missing or starts with a blank line."""
    missing = []
    for path in sorted(package.rglob("*.py")):
        docstring = ast.get_docstring(ast.parse(path.read_text(), str(path)), clean=False)
        if not docstring or not docstring.splitlines()[0].strip():
            missing.append(path.relative_to(package).as_posix())
    return missing


def mapped(notes: str) -> list[str]:
    """The modules the map's rows name in their first cell, in order (a name twice is listed twice)."""
    found = re.search(r"^## Module map\n(.*?)(?=^## )", notes, re.S | re.M)
    assert found, "docs/design-notes.md has no '## Module map' section"
    names = []
    for line in found.group(1).splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([^`]+)`", line.split("|")[1])
    return names


def test_every_module_says_what_it_owns_on_its_first_line():
    missing = without_first_line(PACKAGE)
    assert missing == [], f"give these modules a docstring whose first line says what they own: {missing}"


def test_every_module_has_one_row_in_the_design_notes_map():
    rows = mapped(NOTES.read_text())
    unmapped = sorted(set(modules(PACKAGE)) - set(rows))
    assert unmapped == [], f"add these modules to the Module map in docs/design-notes.md: {unmapped}"
    twice = sorted({name for name in rows if rows.count(name) > 1})
    assert twice == [], f"one row per module in the Module map: {twice} appear more than once"


def test_the_checks_name_what_is_missing(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text('"""The package."""\n')
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "rule.py").write_text('"""\nThe rule, one line too late."""\n')
    (package / "owned.py").write_text('"""What this module owns."""\n')
    notes = (
        "# Notes\n\n## Module map\n\n| module | owns |\n|---|---|\n| `__init__.py` | it |\n"
        "| `owned.py` | it |\n\n## Next\n| `sub/rule.py` | a row outside the map |\n"
    )

    assert without_first_line(package) == ["sub/__init__.py", "sub/rule.py"]
    assert sorted(set(modules(package)) - set(mapped(notes))) == ["sub/", "sub/rule.py"]
