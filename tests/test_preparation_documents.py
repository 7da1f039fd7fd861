"""The preparation stage's documents read back from the PDF: the orders and the regulation.

The regulation is printed from the organisation's policy (nastavnik.policy): the seed's
«Положение о наставничестве» (regulation_and_roadmap_school2_ustyuzhna.txt) says §2.5 «не может
превышать трех», §2.3 «от 0 до 3 лет», §2.4.4 «от 5 лет», §2.13 «В течение 10 дней по завершении
наставничества»; change the policy and the printed regulation changes with it.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import Cycle
from nastavnik import policy, preparation, repository
from nastavnik.documents import document_file
from nastavnik.policy import OrganisationPolicy
from nastavnik.roadmap import Roadmap
from nastavnik.settings import Settings
from tests.conftest import FIXTURES
from tests.test_pairing_documents import pdf_text

ON = date(2026, 8, 28)
ROADMAP_FILE = FIXTURES / "roadmaps" / "school2_small.yaml"


def text_of(pdf: bytes) -> str:
    """The PDF's text without page footers, a dash that ends a line joined to the next word."""
    text = re.sub(r"Стр\. \d+ из \d+ ?", "", pdf_text(pdf))
    return re.sub(r"([–-]) (\w)", r"\1\2", text)


def roadmap() -> Roadmap:
    """The fixture roadmap (the stage loads it the same way; see tasks/preparation.py)."""
    return Roadmap.model_validate(yaml.safe_load(ROADMAP_FILE.read_text(encoding="utf-8")))


def _cycle(session: Session) -> uuid.UUID:
    org = repository.upsert_organization(
        session=session,
        code="school-2",
        name="Муниципальное общеобразовательное учреждение «Средняя школа № 2»",
        short_name="МОУ «СШ № 2»",
        city="Устюжна",
        director_name="Исакова Наталья Романовна",
        director_email="director@school2.example",
        curator_name="Белова Анна Сергеевна",
        curator_email="curator@school2.example",
    )
    return repository.get_or_create_cycle(
        session=session, organization_id=org.id, school_year="2026/2027"
    ).id


def _issue(engine: Engine, settings: Settings, run_key: str) -> dict[str, str]:
    """Issue the stage's documents; returns title → PDF text."""
    with Session(engine) as session:
        issued = preparation.issue_documents(
            session=session,
            settings=settings,
            cycle_id=_cycle(session),
            roadmap=roadmap(),
            on=ON,
            run_key=run_key,
        )
        session.commit()
        return {
            d.title: text_of(document_file(settings=settings, document=d).read_bytes())
            for d in issued
        }


@pytest.fixture
def sqlite(sqlite_engine: Engine) -> Engine:
    """The documents' tests need one database only."""
    return sqlite_engine


def test_the_regulation_states_the_regulation_defaults(sqlite: Engine, settings: Settings) -> None:
    texts = _issue(sqlite, settings, "run-1")
    regulation = texts["Положение о наставничестве"]
    assert "ПОЛОЖЕНИЕ о наставничестве в МОУ «СШ № 2»" in regulation
    assert "не может превышать трёх (3)" in regulation  # §2.5
    assert "молодого специалиста (при опыте работы от 0 до 3 лет)" in regulation  # §2.3
    assert "с опытом работы от 5 лет" in regulation  # §2.4.4
    assert "В течение 10 дней по завершении наставничества наставник" in regulation  # §2.13
    assert "не реже 1 раза в месяц (до 20-го числа каждого месяца)" in regulation  # §4.2
    assert "«ученик–ученик»; «учитель–учитель»; «работодатель–ученик»." in regulation  # §2.1
    assert "действует в течение 14 дней" in regulation  # the installation's setting
    assert "за 3 дня до срока" in regulation
    # Approved by the order «Об утверждении положения», whose number it cites.
    order_number = _order_number(texts["Приказ об утверждении положения о системе наставничества"])
    assert f"УТВЕРЖДЕНО приказом МОУ «СШ № 2» от 28.08.2026 № {order_number}" in regulation


def _order_number(text: str) -> int:
    head = text.split("Приказ об утверждении положения о системе наставничества № ", 1)[1]
    return int(head.split()[0])


def test_a_changed_policy_changes_the_printed_regulation(
    sqlite: Engine, settings: Settings
) -> None:
    with Session(sqlite) as session:
        cycle = session.get(Cycle, _cycle(session))
        assert cycle is not None
        policy.save_policy(
            session=session,
            organization_id=cycle.organization_id,
            policy=policy.apply_assignments(
                OrganisationPolicy(),
                [
                    "max_mentees_per_mentor=2",
                    "group_max=2",
                    "young_specialist_max_years=5",
                    "employer_min_years=7",
                    "report_deadline_days=14",
                    "mentor_report_day=25",
                    "approval_code_valid_days=21",
                    "forms=учитель-учитель, работодатель-ученик",
                ],
            ),
        )
        session.commit()
    # The appendix prints the roadmap's due rules as written («в течение 10 дней …»).
    regulation = _issue(sqlite, settings, "run-2")["Положение о наставничестве"]
    regulation = regulation.split("Приложение к Положению")[0]
    assert "не может превышать двух (2)" in regulation
    assert "трёх" not in regulation
    assert "от 0 до 5 лет" in regulation
    assert "с опытом работы от 7 лет" in regulation
    assert "В течение 14 дней по завершении наставничества" in regulation
    assert "10 дней" not in regulation
    assert "до 25-го числа каждого месяца" in regulation
    assert "действует в течение 21 дня" in regulation
    assert "«учитель–учитель»; «работодатель–ученик»." in regulation
    assert "«ученик – ученик» предполагает" not in regulation  # a form it does not run


def test_the_orders_are_numbered_dated_and_the_roadmap_is_their_appendix(
    sqlite: Engine, settings: Settings
) -> None:
    texts = _issue(sqlite, settings, "run-1")
    assert list(texts) == [
        "Приказ о внедрении целевой модели наставничества",
        "Приказ об утверждении положения о системе наставничества",
        "Приказ о назначении куратора",
        "Приказ об утверждении дорожной карты",
        "Положение о наставничестве",
    ]
    for title in list(texts)[:4]:
        assert f"{title} № " in texts[title]
        assert "от 28 августа 2026 г." in texts[title]
    numbers = [_number(texts[title], title) for title in list(texts)[:4]]
    assert numbers == list(range(numbers[0], numbers[0] + 4))
    curator_order = texts["Приказ о назначении куратора"]
    assert (
        "Назначить куратором внедрения целевой модели наставничества в МОУ «СШ № 2» на "
        "2026/2027 учебный год Белова Анна Сергеевна" in curator_order
    )
    assert "С приказом ознакомлен(а) / А. С. Белова" in curator_order

    fixture = roadmap()
    for title in ("Приказ об утверждении дорожной карты", "Положение о наставничестве"):
        text = texts[title]
        appendix = text.split("Приложение", 1)[1]
        for item in fixture.items:
            # №, мероприятие, сроки exactly as the source wrote them, ответственные, результат
            assert f"{item.number} {item.title.split()[0]}" in appendix
            assert item.due in appendix
            assert item.result.split()[0] in appendix
        assert "Всего мероприятий: 8" in appendix
    # Re-issuing with the same run key returns the same documents: nothing is renumbered.
    assert _issue(sqlite, settings, "run-1") == texts


def _number(text: str, title: str) -> int:
    return int(text.split(f"{title} № ", 1)[1].split()[0])


def test_a_roadmap_file_that_is_not_a_roadmap_is_refused_naming_the_file(tmp_path: Path) -> None:
    from nastavnik.roadmap import RoadmapError
    from tasks.preparation import _load_roadmap

    broken = tmp_path / "roadmap.yaml"
    broken.write_text("title: План\nitems: []\n", encoding="utf-8")
    with pytest.raises(RoadmapError, match="roadmap.yaml"):
        _load_roadmap(broken)
