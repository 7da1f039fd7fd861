"""The one clock: fixed for tests, stored in the database for a simulated installation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from nastavnik.clock import FixedClock, StoredClock, SystemClock
from nastavnik.db import make_engine


def test_fixed_clock_tells_the_local_day_not_the_utc_one() -> None:
    # 23:30 UTC on 31 August is already 1 September in Moscow: the school year has begun there.
    clock = FixedClock(datetime(2026, 8, 31, 23, 30, tzinfo=UTC))
    assert clock.today() == date(2026, 9, 1)
    clock.advance(timedelta(days=1))
    assert clock.today() == date(2026, 9, 2)


def test_fixed_clock_refuses_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        FixedClock(datetime(2026, 9, 1, 9, 0))


def test_fixed_clock_on_a_day_stands_at_nine_local() -> None:
    clock = FixedClock.on(date(2027, 1, 1))
    assert clock.today() == date(2027, 1, 1)
    assert clock.now() == datetime(2027, 1, 1, 6, 0, tzinfo=UTC)


def test_stored_clock_is_shared_by_every_engine_on_the_database(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    # The CLI moves the day; the runner's and the web endpoint's processes read it.
    other_process = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    writer, reader = StoredClock(sqlite_engine), StoredClock(other_process)
    writer.set_day(date(2027, 3, 15), at=time(10, 30))
    assert reader.today() == date(2027, 3, 15)
    assert reader.now() == datetime(2027, 3, 15, 7, 30, tzinfo=UTC)
    writer.set_day(date(2027, 3, 16))
    assert reader.today() == date(2027, 3, 16)
    other_process.dispose()


def test_stored_clock_unset_reads_the_real_time(sqlite_engine: Engine) -> None:
    before = SystemClock().now()
    assert before <= StoredClock(sqlite_engine).now() <= SystemClock().now()


def test_a_cleared_stored_clock_is_the_real_time_again(sqlite_engine: Engine) -> None:
    clock = StoredClock(sqlite_engine)
    clock.set_day(date(2027, 3, 15))
    clock.clear()
    assert clock.today() != date(2027, 3, 15) or SystemClock().today() == date(2027, 3, 15)
