"""Settings read from the environment: what a newcomer's choices lead to."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nastavnik.settings import Settings


def test_links_in_mail_follow_a_chosen_web_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NASTAVNIK_WEB_BASE_URL", raising=False)
    monkeypatch.setenv("NASTAVNIK_WEB_PORT", "8592")
    assert Settings().web_base_url == "http://127.0.0.1:8592"


def test_an_address_that_is_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASTAVNIK_WEB_PORT", "8592")
    monkeypatch.setenv("NASTAVNIK_WEB_BASE_URL", "https://nastavnik.school.example")
    assert Settings().web_base_url == "https://nastavnik.school.example"


def test_the_default_is_the_local_web_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NASTAVNIK_WEB_BASE_URL", "NASTAVNIK_WEB_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().web_base_url == "http://127.0.0.1:8470"


def test_a_placeholder_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASTAVNIK_SECRET_KEY", "changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()
