"""Runs are named and tagged for what they are (issue 10 §4), not «sparkling-elephant»."""

from deployments.catalog import run_label


def test_a_stage_run_is_named_and_tagged_by_organisation_year_and_stage() -> None:
    params = {"organization_code": "school-7", "school_year": "2026/2027", "reference_date": None}
    assert run_label("pairing/pairing", params) == (
        "school-7 · 2026/2027 · pairing",
        ["school-7", "2026/2027", "pairing"],
    )
    assert run_label("pair-replacement/pair-replacement", params)[0] == (
        "school-7 · 2026/2027 · pair-replacement"
    )


def test_a_run_without_organisation_and_year_keeps_prefects_name() -> None:
    assert run_label("retry-deliveries/retry-deliveries", {"include_failed": True}) == (None, [])
