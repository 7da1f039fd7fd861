"""Work every flow run's process would otherwise repeat, done once in the runner's fork server.

Imported by the fork server (deployments/serve.py) after the flow modules: every run's process
is forked from it and inherits the result. Measured in bench/year.py's runs: configuring the
SQLAlchemy mappers took the first query of each process ≈0.2 s (23 processes a school year),
each process compiled the Jinja templates it used again, and its first PDF cost ≈0.6 s more
than the next ones (15 processes of a school year render). Importing it also lets each run's
process end without waiting for its heartbeat thread (deployments/heartbeats.py).
"""

from __future__ import annotations

import sys

from sqlalchemy.orm import configure_mappers

import models  # noqa: F401  (every table mapped before the mappers are configured)
from deployments.heartbeats import heartbeats_without_join
from nastavnik.documents import document_env, warm_renderer


def warm_up() -> int:
    """Configure the mappers, compile every template, render a first document, import
    matplotlib's SVG backend; returns how many templates were compiled."""
    configure_mappers()
    env = document_env()
    names = env.list_templates(extensions=["html", "txt"])
    for name in names:
        env.get_template(name)
    # Hyphenation patterns (print.css hyphenates Russian text), which pyphen would otherwise
    # load at each process's first hyphenated document.
    import pyphen

    pyphen.Pyphen(lang="ru")
    # A process's first PDF costs ≈0.6 s more than the next (fonts, print.css, C bindings):
    # where WeasyPrint is preloaded (the embedded runner's fork server, the production warm
    # launchers).
    if "weasyprint" in sys.modules:
        warm_renderer()
    # The completion memo's charts and the roadmap's Gantt chart (≈0.5 s to import).
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.figure  # noqa: F401

    return len(names)


warm_up()
heartbeats_without_join()
