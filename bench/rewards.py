"""Letters of thanks and certificates of honour: documents/s per core and RSS over one batch.

The final event issues every nominee's paper as ONE batch through
``nastavnik.documents.issue_documents`` (nastavnik.awards.issue_award_documents), the way the
flow does: a temporary SQLite database with N nominated mentors (a quarter of them get a
certificate of honour, the rest a letter), one warm-up batch of 50 (fonts, stylesheet, caches),
then the timed batch. Target (issue 9): ≥ 8 documents/s per core, with RSS flat over the batch.

- per core: the batch rendered in the calling process (NASTAVNIK_RENDER_PROCESSES=1), its RSS
  sampled every 10 ms by a thread and shown at the batch's start, middle and end;
- parallel: the same batch in the render processes (--processes, default 2), for the wall time.

Run: uv run python bench/rewards.py [--docs 200] [--processes 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlmodel import Session

from models import (
    MentoringForm,
    MentorNomination,
    Participant,
    Person,
    RewardKind,
    Role,
)
from nastavnik import awards, repository
from nastavnik.db import make_engine, migrate
from nastavnik.settings import Settings

SURNAMES = ["Смирнова", "Кузнецова", "Попова", "Васильева", "Соколова", "Михайлова", "Новикова"]
GIVEN = [("Анна", "Петровна"), ("Мария", "Игоревна"), ("Елена", "Сергеевна"), ("Ольга", "Юрьевна")]
CERTIFICATE = RewardKind.honour_certificate
POSITIONS = ["учитель математики", "учитель русского языка и литературы", "педагог-психолог"]


def rss_mb() -> float:
    """The process's resident set size in MB (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssSampler:
    """Samples the RSS every `interval` seconds in a thread while the block runs."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), rss_mb()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), rss_mb()))

    def at(self, fraction: float) -> float:
        """The RSS sampled nearest to that fraction of the run's duration."""
        start, end = self.samples[0][0], self.samples[-1][0]
        moment = start + fraction * (end - start)
        return min(self.samples, key=lambda sample: abs(sample[0] - moment))[1]


def school(engine_url: str, mentors: int, year: str) -> uuid.UUID:
    """A cycle with `mentors` nominated mentors; returns the cycle id."""
    engine = make_engine(engine_url)
    with Session(engine) as session:
        org = repository.upsert_organization(
            session=session,
            code="school-2",
            name="Муниципальное общеобразовательное учреждение «Средняя школа № 2»",
            short_name="МОУ «СШ № 2»",
            director_name="Иванова Мария Петровна",
            director_email="director@school2.example",
            curator_name="Петров Олег Ильич",
            curator_email="curator@school2.example",
            city="Устюжна",
        )
        cycle = repository.get_or_create_cycle(
            session=session, organization_id=org.id, school_year=year
        )
        for number in range(mentors):
            first, middle = GIVEN[number % len(GIVEN)]
            person = Person(
                organization_id=org.id,
                person_key=f"{year}-{number}",
                last_name=SURNAMES[number % len(SURNAMES)],
                first_name=first,
                middle_name=middle,
            )
            session.add(person)
            session.flush()
            participant = Participant(
                cycle_id=cycle.id,
                person_id=person.id,
                role=Role.mentor,
                form=MentoringForm.teacher_teacher,
                position=POSITIONS[number % len(POSITIONS)],
            )
            session.add(participant)
            session.flush()
            session.add(
                MentorNomination(
                    cycle_id=cycle.id,
                    mentor_id=participant.id,
                    reward=CERTIFICATE if number % 4 == 0 else RewardKind.gratitude,
                    rank=number + 1,
                    score=90.0,
                    nominated_by="bench",
                    nominated_on=date(2027, 6, 1),
                )
            )
        session.commit()
        cycle_id = cycle.id
    engine.dispose()
    return cycle_id


def issue(engine_url: str, settings: Settings, cycle_id: uuid.UUID) -> int:
    """Issue the cycle's papers as one batch; returns how many were made."""
    engine = make_engine(engine_url)
    with Session(engine) as session:
        made = awards.issue_award_documents(
            session=session, settings=settings, cycle_id=cycle_id, doc_date=date(2027, 6, 10)
        )
        session.commit()
    engine.dispose()
    return len(made)


def timed(run: Callable[[], int]) -> tuple[int, float]:
    start = time.perf_counter()
    count = run()
    return count, time.perf_counter() - start


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=200, help="documents in the timed batch")
    parser.add_argument(
        "--processes", type=int, default=2, help="render processes, parallel run (0: skip)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-rewards-") as folder:
        url = f"sqlite:///{Path(folder) / 'app.db'}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        settings = Settings(
            data_dir=Path(folder) / "data",
            database_url=url,
            secret_key="bench-secret-key-0123456789abcdef",
        )
        warm_up = school(url, 50, "2024/2025")
        batch = school(url, args.docs, "2025/2026")
        parallel = school(url, args.docs, "2026/2027")

        os.environ["NASTAVNIK_RENDER_PROCESSES"] = "1"
        issue(url, settings, warm_up)
        with RssSampler() as rss:
            count, seconds = timed(lambda: issue(url, settings, batch))
        print(f"Letters and certificates, one batch of {count} through issue_documents")
        print(
            f"  per core (1 process): {seconds:6.1f} s, {count / seconds:5.1f} documents/s, "
            f"{seconds / count * 1000:5.0f} ms/document"
        )
        print(
            f"  RSS start / middle / end: {rss.at(0):.0f} / {rss.at(0.5):.0f} / "
            f"{rss.at(1):.0f} MB (peak {max(s[1] for s in rss.samples):.0f} MB)"
        )

        print("  RSS by quarter: " + " / ".join(f"{rss.at(q / 4):.1f}" for q in range(5)) + " MB")
        if not args.processes:
            return
        os.environ["NASTAVNIK_RENDER_PROCESSES"] = str(args.processes)
        count, seconds = timed(lambda: issue(url, settings, parallel))
        print(
            f"  {args.processes} processes: {seconds:6.1f} s, {count / seconds:5.1f} documents/s "
            f"({count / seconds / args.processes:.1f} per core, worker start-up included)"
        )


if __name__ == "__main__":
    main()
