"""Application settings, read from the environment (prefix ``NASTAVNIK_``)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"changethis", "secret", "changeme", "password"}


class Settings(BaseSettings):
    """Everything the service needs to know about its surroundings."""

    model_config = SettingsConfigDict(env_prefix="NASTAVNIK_", env_ignore_empty=True)

    data_dir: Path = Path(".nastavnik")
    database_url: str | None = None
    smtp_url: str = "smtp://127.0.0.1:8025"
    mail_from: str = "Наставник <nastavnik@localhost>"
    # Where links in e-mails point; by default the local web endpoint on `web_port`.
    web_base_url: str = ""
    web_port: int = 8470
    prefect_port: int = 4200
    secret_key: SecretStr | None = None
    approval_ttl_days: int = 14
    # Most organisations one batch run does a stage for (flows/batch.py): more are split into
    # runs of nearly equal size, which several workers run at once.
    batch_size: int = Field(default=10, ge=1)
    # Processes the daily tick runs the organisations' days in (nastavnik/tick_day.py); 0:
    # one per core on PostgreSQL, at most one per organisation, and 1 (the tick's own) on SQLite.
    tick_processes: int = Field(default=0, ge=0)
    max_import_bytes: int = 5 * 1024 * 1024
    smtp_timeout_seconds: float = 10.0
    # "simulated": every process reads the day from the database (a simulated school year).
    clock: Literal["system", "simulated"] = "system"
    # The embedded runner's schedules (retry-deliveries every minute, the daily tick): off under
    # a simulated clock, where the simulation ticks and retries, and in tests that count e-mails.
    schedules: bool = True
    timezone: str = "Europe/Moscow"
    # The department this organisation reports to, when it runs in another installation
    # (issue 10 §2): the token the department gave (`nastavnik department token ORG_CODE`
    # there), and where reports go: an HTTPS upload to its web address, else an e-mail.
    department_token: SecretStr | None = None
    department_url: str | None = None
    department_email: str | None = None

    @field_validator("secret_key")
    @classmethod
    def refuse_placeholder_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            raw = value.get_secret_value()
            if raw.lower() in PLACEHOLDER_SECRETS or len(raw) < 16:
                raise ValueError(
                    "NASTAVNIK_SECRET_KEY is a placeholder or shorter than 16 characters"
                )
        return value

    @model_validator(mode="after")
    def link_to_the_local_web_port(self) -> Settings:
        # A port chosen without an address must not leave the links on the default port, where
        # another installation (or nobody) listens.
        if not self.web_base_url:
            self.web_base_url = f"http://127.0.0.1:{self.web_port}"
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'nastavnik.db').resolve()}"

    @property
    def documents_dir(self) -> Path:
        return self.data_dir / "documents"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def approval_secret(self) -> bytes:
        """The HMAC key for approval codes: from the environment, else generated once on disk."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, built on first use (never at import)."""
    return Settings()
