"""PDF rendering benchmark: ms per page with/without HarfBuzz subsetting, memory per document.

Run: uv run python bench/pdf.py [--repeat 5] [--docs 50]
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import time
from datetime import date
from typing import Any

import weasyprint.pdf.fonts as weasyprint_pdf_fonts
from weasyprint import HTML
from weasyprint.text import ffi
from weasyprint.text.fonts import FontConfiguration

from nastavnik.documents import (
    DOCUMENTS_TEMPLATES_DIR,
    _print_css,
    document_env,
    font_config,
    harfbuzz_subset_available,
    render_html,
)

ORGANIZATION = {
    "name": "Муниципальное бюджетное общеобразовательное учреждение «Средняя школа № 7»",
    "short_name": "МБОУ СШ № 7",
    "city": "Минеральные Воды",
    "director_name": "Иванова Мария Петровна",
    "curator_name": "Петров Олег Ильич",
}
SURNAMES = ["Смирнов", "Кузнецова", "Попов", "Васильева", "Соколов", "Михайлова", "Новиков"]
GIVEN = ["Артём Сергеевич", "Анна Дмитриевна", "Никита Андреевич", "Полина Игоревна"]


def register_html(rows: int) -> str:
    """A mentees' register with this many rows, as HTML."""
    context: dict[str, Any] = {
        "organization": ORGANIZATION,
        "cycle": {"school_year": "2026/2027"},
        "document": {"title": "Реестр наставляемых", "label": "№ Р-3", "date": date(2026, 6, 14)},
        "rows": [
            {
                "number": i,
                "full_name": f"{SURNAMES[i % len(SURNAMES)]} {GIVEN[i % len(GIVEN)]}",
                "grade_label": f"{5 + i % 7}«{'АБВ'[i % 3]}»",
                "form": "ученик–ученик",
                "requests": "подготовка к ОГЭ по математике, адаптация в новом классе",
                "interests": "шахматы, робототехника, волейбол",
            }
            for i in range(1, rows + 1)
        ],
    }
    return document_env().get_template("documents/register_mentees.html").render(**context)


def time_render(html: str, repeat: int) -> tuple[float, int]:
    """Median ms per page over `repeat` warm renders (after one warm-up), and the page count."""
    _, pages = render_html(html)  # warm-up: fonts, layout caches
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        render_html(html)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples) / pages, pages


def set_subsetter(library: object) -> None:
    """Switch HarfBuzz subsetting on/off where WeasyPrint 70 actually reads it."""
    # weasyprint/pdf/fonts.py did `from ..text.ffi import harfbuzz_subset`: patching only
    # weasyprint.text.ffi would change nothing, so patch the name in pdf.fonts (and ffi too).
    weasyprint_pdf_fonts.harfbuzz_subset = library
    ffi.harfbuzz_subset = library


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc), else peak RSS."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_per_document(html: str, docs: int, *, shared: bool) -> float:
    """RSS growth per document (MB) over `docs` renders, shared or fresh FontConfiguration."""
    stylesheets = [_print_css()]
    base_url = str(DOCUMENTS_TEMPLATES_DIR) + "/"

    def one() -> None:
        fonts = font_config() if shared else FontConfiguration()
        HTML(string=html, base_url=base_url).write_pdf(stylesheets=stylesheets, font_config=fonts)

    one()
    gc.collect()
    before = rss_mb()
    for _ in range(docs):
        one()
    gc.collect()
    return (rss_mb() - before) / docs


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="timed renders per case")
    parser.add_argument("--docs", type=int, default=50, help="documents for the memory test")
    args = parser.parse_args()

    small, large = register_html(5), register_html(145)
    library = weasyprint_pdf_fonts.harfbuzz_subset
    print(f"WeasyPrint PDF, Cyrillic register, median of {args.repeat} warm renders")
    results: dict[str, dict[str, float]] = {}
    modes = [("with HarfBuzz subset", library), ("without (fontTools)", None)]
    for mode, lib in modes:
        if mode.startswith("with ") and not harfbuzz_subset_available():
            print(f"  {mode}: unavailable, libharfbuzz-subset is not installed")
            print("    install it: apt-get install libharfbuzz-subset0")
            continue
        set_subsetter(lib)
        try:
            for name, html in (("1-page", small), ("long", large)):
                per_page, pages = time_render(html, args.repeat)
                results.setdefault(name, {})[mode] = per_page
                print(
                    f"  {mode:22} {name:6} ({pages:2} pages): {per_page:7.1f} ms/page"
                    f" ({per_page * pages:6.0f} ms/document)"
                )
        finally:
            set_subsetter(library)
    for name, figures in results.items():
        if len(figures) == 2:
            with_hb, without = figures[modes[0][0]], figures[modes[1][0]]
            print(f"  ratio without/with, {name}: {without / with_hb:.1f}x")

    print(f"\nMemory growth per document over {args.docs} documents (1-page register, RSS):")
    # Shared first: RSS rarely shrinks, so the leakier run must come second to be measured fairly.
    shared = memory_per_document(small, args.docs, shared=True)
    fresh = memory_per_document(small, args.docs, shared=False)
    print(f"  shared FontConfiguration:       {shared * 1024:7.1f} KB/document")
    print(f"  new FontConfiguration each doc: {fresh * 1024:7.1f} KB/document")


if __name__ == "__main__":
    main()
