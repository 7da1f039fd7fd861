"""A real Prefect test server, the deployments served by a real runner, a real SMTP sink."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness

from deployments.catalog import STAGE_DEPLOYMENTS
from nastavnik import repository
from nastavnik.clock import process_clock
from nastavnik.db import session_scope
from nastavnik.settings import Settings, get_settings
from nastavnik.smtp_sink import MailSink

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRET = "flow-tests-secret-0123456789abcdef"
ORG = {
    "code": "school-2",
    "name": "МОУ «Средняя школа № 2»",
    "short_name": "СШ № 2",
    "city": "г. Устюжна",
    "director_name": "Исакова Наталья Романовна",
    "director_email": "director@school2.example.ru",
    "curator_name": "Белова Анна Сергеевна",
    "curator_email": "curator@school2.example.ru",
}
MENTEES = """Фамилия;Имя;Отчество;Дата рождения;Электронная почта;Класс;Форма наставничества;Запрос;Согласие на обработку персональных данных;Дата согласия;Согласие законного представителя;ФИО законного представителя
Кузнецова;Дарья;Ильинична;12.03.2013;dasha.k@example.ru;7А;Ученик – ученик;подготовка к олимпиаде по математике;Да;01.09.2026;Да;Кузнецов Илья Петрович
Соколов;Артём;Андреевич;05.11.2012;artem.s@example.ru;8Б;Ученик – ученик;адаптация в новом классе;Да;01.09.2026;Нет;
Васильева;Ольга;Игоревна;20.01.2001;olga.v@example.ru;;Учитель – учитель;адаптация молодого специалиста;Да;01.09.2026;;
"""
MENTORS = """Фамилия;Имя;Отчество;Дата рождения;Электронная почта;Должность;Класс;Стаж;Форма наставничества;Предметы;Согласие на обработку персональных данных;Дата согласия;Согласие законного представителя;ФИО законного представителя
Громова;Ирина;Васильевна;14.02.1975;gromova@example.ru;учитель математики;;24;Учитель – учитель;математика;Да;01.09.2026;;
Лебедев;Максим;Олегович;02.04.2009;max.l@example.ru;;11А;;Ученик – ученик;математика, информатика;Да;01.09.2026;Да;Лебедева Ольга Петровна
"""


@dataclass
class FlowStack:
    """What the flow tests talk to."""

    settings: Settings
    sink: MailSink
    mentee_file: Path
    mentor_file: Path

    def mail_to(self, address: str) -> list[email.message.EmailMessage]:
        """Messages the SMTP server received for this address, parsed."""
        return [
            email.message_from_bytes(m.data, policy=email.policy.default)  # type: ignore[misc]
            for m in self.sink.messages
            if address in m.rcpt_tos
        ]


def _wait_for_deployment(name: str, timeout: float = 90) -> None:
    async def exists() -> bool:
        async with get_client() as client:
            try:
                await client.read_deployment_by_name(name)
                return True
            except Exception:
                return False

    deadline = time.monotonic() + timeout
    while not asyncio.run(exists()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"deployment {name} was not served within {timeout} s")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def flow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowStack]:
    """Prefect test server + `deployments.serve` runner + MailSink, on a temp data dir."""
    data_dir = tmp_path_factory.mktemp("flow-data")
    sink = MailSink(directory=data_dir / "mail", port=0)
    sink.start()
    saved_env = dict(os.environ)
    with prefect_test_harness(server_startup_timeout=120):
        os.environ.update(
            {
                "PREFECT_API_URL": PREFECT_API_URL.value(),
                "PREFECT_HOME": str(data_dir / "prefect"),
                "PREFECT_RUNNER_POLL_FREQUENCY": "1",
                "NASTAVNIK_DATA_DIR": str(data_dir),
                "NASTAVNIK_DATABASE_URL": f"sqlite:///{data_dir / 'app.db'}",
                "NASTAVNIK_SECRET_KEY": SECRET,
                "NASTAVNIK_SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
                "NASTAVNIK_WEB_BASE_URL": "http://approvals.test",
                # Unset, the stored clock reads the real time; the year tests move it.
                "NASTAVNIK_CLOCK": "simulated",
            }
        )
        get_settings.cache_clear()
        process_clock.cache_clear()
        runner = subprocess.Popen(
            [sys.executable, "-m", "deployments.serve"],
            cwd=PROJECT_ROOT,
            env=os.environ.copy(),
            start_new_session=True,
        )
        try:
            for name in STAGE_DEPLOYMENTS.values():
                _wait_for_deployment(name)
            with session_scope() as session:
                repository.upsert_organization(session=session, **ORG)
            mentee_file = data_dir / "mentees.csv"
            mentee_file.write_text(MENTEES, encoding="cp1251")
            mentor_file = data_dir / "mentors.csv"
            mentor_file.write_text(MENTORS, encoding="utf-8-sig")
            yield FlowStack(get_settings(), sink, mentee_file, mentor_file)
        finally:
            runner.terminate()
            try:
                runner.wait(timeout=20)
            except subprocess.TimeoutExpired:
                runner.kill()
            sink.stop()
            os.environ.clear()
            os.environ.update(saved_env)
            get_settings.cache_clear()
            process_clock.cache_clear()
