"""What the wheel carries: every template, inside the package where the core looks for them."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from nastavnik.rendering import TEMPLATES_DIR

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_templates_are_found_in_the_source_tree() -> None:
    assert TEMPLATES_DIR == PROJECT_ROOT / "templates"


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv builds the wheel")
def test_the_wheel_carries_every_template_inside_the_package(tmp_path: Path) -> None:
    subprocess.run(
        ["uv", "build", "--wheel", "--quiet", "--out-dir", str(tmp_path)],
        cwd=PROJECT_ROOT,
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("nastavnik-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {
        "nastavnik/templates/" + str(path.relative_to(TEMPLATES_DIR))
        for path in TEMPLATES_DIR.rglob("*")
        if path.is_file()
    }
    assert templates and templates <= names
    assert "nastavnik/templates/documents/print.css" in names
