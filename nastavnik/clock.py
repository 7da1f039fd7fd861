"""The one clock: every "what day is it" in the core asks a `Clock` (DESIGN §7).

Production runs on the system clock. A simulated installation (`NASTAVNIK_CLOCK=simulated`) keeps
its time in the application database, so the CLI, the runner's flow processes and the web endpoint
all agree on the simulated day without passing it around. Tests pass a `FixedClock`.

Real elapsed time stays real where it measures processes, not days: SMTP timeouts, outbox claim
leases and retry backoff are about how long a server or a process takes, so the outbox keeps its
own wall clock for them (`nastavnik.mail.utc_now`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import SimulatedClock

DEFAULT_TIMEZONE = "Europe/Moscow"


class Clock(Protocol):
    """Tells the time: `now` in UTC, `today` in the organisations' time zone."""

    def now(self) -> datetime: ...

    def today(self) -> date: ...


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


@dataclass(frozen=True)
class SystemClock:
    """The real time."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return _local_day(self.now(), self.zone)


@dataclass
class FixedClock:
    """A clock that says what it is told; tests and in-process simulations move it by hand."""

    moment: datetime
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))

    def __post_init__(self) -> None:
        if self.moment.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")

    @classmethod
    def on(cls, day: date, *, at: time = time(9, 0), zone: str = DEFAULT_TIMEZONE) -> FixedClock:
        """A clock standing at `at` local time on `day`."""
        tz = ZoneInfo(zone)
        return cls(datetime.combine(day, at, tzinfo=tz).astimezone(UTC), tz)

    def now(self) -> datetime:
        return self.moment

    def today(self) -> date:
        return _local_day(self.moment, self.zone)

    def set(self, moment: datetime) -> None:
        self.moment = moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@dataclass(frozen=True)
class StoredClock:
    """The simulated time kept in the database; unset, it reads as the real time."""

    engine: Engine
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))

    def now(self) -> datetime:
        return self.stored() or datetime.now(UTC)

    def stored(self) -> datetime | None:
        """The simulated moment, if one is set."""
        with Session(self.engine) as session:
            row = session.get(SimulatedClock, 1)
        if row is None:
            return None
        moment = row.now
        # SQLite hands timezone-aware columns back naive; they were stored in UTC.
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def today(self) -> date:
        return _local_day(self.now(), self.zone)

    def set(self, moment: datetime) -> None:
        """Move every process of this installation to `moment`."""
        if moment.tzinfo is None:
            raise ValueError("the simulated time must be timezone-aware")
        with Session(self.engine) as session:
            row = session.get(SimulatedClock, 1)
            if row is None:
                session.add(SimulatedClock(id=1, now=moment.astimezone(UTC)))
            else:
                row.now = moment.astimezone(UTC)
                session.add(row)
            session.commit()

    def clear(self) -> None:
        """Back to the real time."""
        with Session(self.engine) as session:
            row = session.get(SimulatedClock, 1)
            if row is not None:
                session.delete(row)
                session.commit()

    def set_day(self, day: date, *, at: time = time(9, 0)) -> None:
        """Move to `at` local time on `day`."""
        self.set(datetime.combine(day, at, tzinfo=self.zone))


@lru_cache
def process_clock() -> Clock:
    """This process's clock, chosen by the settings (`NASTAVNIK_CLOCK`, `NASTAVNIK_TIMEZONE`)."""
    from nastavnik.db import engine_for
    from nastavnik.settings import get_settings

    settings = get_settings()
    zone = ZoneInfo(settings.timezone)
    if settings.clock == "simulated":
        return StoredClock(engine_for(settings.resolved_database_url), zone)
    return SystemClock(zone)
