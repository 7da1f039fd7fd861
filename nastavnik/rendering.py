"""The one Jinja2 environment of the process (documents and e-mails), with Russian filters."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


def _templates_dir() -> Path:
    """``templates/`` inside the package (an installed wheel), else beside it (the source tree)."""
    package = Path(__file__).resolve().parent
    shipped = package / "templates"
    return shipped if shipped.is_dir() else package.parent / "templates"


TEMPLATES_DIR = _templates_dir()


def russian_date(value: date | datetime, style: str = "long") -> str:
    """«14 июня 2022 г.» (long) or «14.06.2022» (short)."""
    if style == "short":
        return value.strftime("%d.%m.%Y")
    return format_date(value, format="d MMMM y 'г.'", locale="ru")


@lru_cache
def get_jinja_env() -> Environment:
    """Autoescaping, strict environment shared by every template."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "htm", "xml"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ru_date"] = russian_date
    return env
