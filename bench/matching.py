"""Matching benchmark: our engine (min-cost flow + certificate) against a greedy baseline.

Run: uv run python bench/matching.py [--sizes 200 2000 20000] [--seed 7]

Synthetic but questionnaire-like data: ~15 school subjects, ~20 interests, weekday slots,
forms mostly «ученик–ученик» and «учитель–учитель» with grades and experience such that the
regulation's rules bite (§2.2 grade gap, §2.3 young specialists, §2.4.4 employers 5+ years,
§2.6 consents, earlier cycles' active pairs under §2.5). Memory: tracemalloc peak of Python
allocations (numpy included) during the call; OR-Tools' C++ heap is not traced, so the
process's ru_maxrss after the run is printed as well. Time and memory come from separate runs
(tracemalloc slows allocation-heavy numpy code down).
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import time
import tracemalloc
from collections.abc import Callable
from functools import partial

import numpy as np

from models import MentoringForm
from nastavnik.matching import (
    SCALE,
    MatchResult,
    MenteeCandidate,
    MentorCandidate,
    Policy,
    _Data,
    _Problem,
    int_score,
    match,
    mentee_violation,
    remaining_capacity,
    score,
)

SUBJECTS = [
    "математика",
    "русский язык",
    "литература",
    "физика",
    "химия",
    "биология",
    "история",
    "обществознание",
    "география",
    "английский язык",
    "информатика",
    "физкультура",
    "музыка",
    "изобразительное искусство",
    "технология",
]
REQUESTS = [
    "подготовка к ОГЭ",
    "подготовка к ЕГЭ",
    "олимпиада",
    "проект",
    "адаптация",
    "дисциплина",
    "методика",
    "рабочая программа",
    "классное руководство",
    "работа с родителями",
    "профориентация",
    "выгорание",
]
INTERESTS = [
    "шахматы",
    "футбол",
    "волейбол",
    "театр",
    "музыка",
    "рисование",
    "программирование",
    "робототехника",
    "туризм",
    "волонтёрство",
    "чтение",
    "кино",
    "фотография",
    "танцы",
    "журналистика",
    "экология",
    "краеведение",
    "лыжи",
    "кулинария",
    "настольные игры",
]
DAYS = ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота"]
SLOTS = [f"{d} {p}" for d in DAYS for p in ("после уроков", "вечер")]
FORMS = [
    MentoringForm.student_student,
    MentoringForm.teacher_teacher,
    MentoringForm.employer_student,
]
FORM_WEIGHTS = [0.6, 0.3, 0.1]


def _some(rng: random.Random, pool: list[str], low: int, high: int) -> frozenset[str]:
    return frozenset(rng.sample(pool, rng.randint(low, high)))


def make_instance(
    n: int, seed: int, capacity: int = 3
) -> tuple[list[MenteeCandidate], list[MentorCandidate]]:
    """N mentees and ceil(N/3)+10% mentors with questionnaire-like answers."""
    rng = random.Random(seed)
    mentees = []
    for i in range(n):
        form = rng.choices(FORMS, FORM_WEIGHTS)[0]
        pupil = form is not MentoringForm.teacher_teacher
        mentees.append(
            MenteeCandidate(
                id=f"e{i:06d}",
                form=form,
                grade=rng.randint(5, 9)
                if form is MentoringForm.student_student
                else (rng.randint(8, 11) if pupil else None),
                experience_years=None if pupil else rng.choice([0, 0, 1, 1, 2, 3, 4, 7]),
                is_new_staff=not pupil and rng.random() < 0.15,
                subjects=_some(rng, SUBJECTS, 1, 3),
                interests=_some(rng, INTERESTS, 2, 4),
                requests=_some(rng, REQUESTS, 1, 2),
                availability=_some(rng, SLOTS, 2, 4),
                has_consents=rng.random() < 0.97,
                wants_group=pupil and rng.random() < 0.1,
            )
        )
    n_mentors = math.ceil(math.ceil(n / capacity) * 1.1)
    mentors = []
    for j in range(n_mentors):
        form = rng.choices(FORMS, FORM_WEIGHTS)[0]
        forms = {form}
        if form is MentoringForm.teacher_teacher and rng.random() < 0.2:
            forms.add(MentoringForm.employer_student)  # a teacher also on a company's side
        employer = form is MentoringForm.employer_student
        mentors.append(
            MentorCandidate(
                id=f"r{j:06d}",
                forms=frozenset(forms),
                grade=rng.randint(7, 11) if form is MentoringForm.student_student else None,
                experience_years=None
                if form is MentoringForm.student_student
                else rng.randint(2, 35),
                is_employer=employer,
                competencies=_some(rng, SUBJECTS, 2, 4) | _some(rng, REQUESTS, 1, 3),
                interests=_some(rng, INTERESTS, 2, 5),
                availability=_some(rng, SLOTS, 3, 6),
                capacity=capacity,
                active_mentees=1 if rng.random() < 0.1 else 0,
                has_consents=rng.random() < 0.98,
                admitted=rng.random() < 0.95,
            )
        )
    return mentees, mentors


def greedy(
    mentees: list[MenteeCandidate], mentors: list[MentorCandidate], policy: Policy | None = None
) -> MatchResult:
    """Baseline: mentees in order of their best score each take their best mentor with room."""
    policy = policy or Policy()
    mentees = sorted(mentees, key=lambda m: m.id)
    mentors = sorted(mentors, key=lambda r: r.id)
    capacity = np.array([remaining_capacity(r, policy=policy) for r in mentors], dtype=np.int64)
    free = [i for i, m in enumerate(mentees) if mentee_violation(m, policy=policy) is None]
    problem = _Problem(_Data(mentees, mentors, policy), free, capacity, {})
    # Each mentee's eligible mentors, best first (score rounded to solver units, then mentor
    # id); the first 64 are ranked up front, the rest only if all of those are full.
    ranked: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for form, pool in problem.pool.items():
        rows = problem.by_form[form]
        step = max(1, 200_000 // max(1, len(pool)))
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            ok, approx = problem.block(chunk, form)
            key = np.where(ok, np.rint(approx), -1.0)
            for r, i in enumerate(chunk):
                ranked[int(i)] = (pool, key[r])
    order_of: dict[int, np.ndarray] = {}

    def best_first(i: int, limit: int | None) -> np.ndarray:
        pool, key = ranked[i]
        cols = np.flatnonzero(key >= 0)
        if limit is not None and len(cols) > limit:
            cols = cols[np.argpartition(-key[cols], limit - 1)[:limit]]
        return cols[np.lexsort((pool[cols], -key[cols]))]

    best = {i: float(key.max()) if len(key) else -1.0 for i, (_, key) in ranked.items()}
    order = sorted(ranked, key=lambda i: (-best[i], i))
    assignment: dict[int, int] = {}
    for i in order:
        pool = ranked[i][0]
        for limit in (64, None):
            order_of[i] = best_first(i, limit)
            free_cols = [c for c in order_of[i] if capacity[pool[c]] > 0]
            if free_cols or limit is None or len(order_of[i]) < limit:
                break
        if free_cols:
            j = int(pool[free_cols[0]])
            capacity[j] -= 1
            assignment[i] = j
    values = {i: score(mentees[i], mentors[j], policy.weights)[0] for i, j in assignment.items()}
    worst = min(values, key=lambda i: (values[i], i)) if values else None
    return MatchResult(
        pairs=[],
        groups=[],
        unmatched=[],
        total_score=sum(values.values()),
        worst_score=values[worst] if worst is not None else None,
        worst_mentee_id=mentees[worst].id if worst is not None else None,
        stats={"matched": len(values), "objective": sum(int_score(v) for v in values.values())},
    )


def measure(fn: Callable[[], MatchResult]) -> tuple[MatchResult, float, float]:
    """(result, wall seconds of an untraced run, tracemalloc peak MB of a second, traced run)."""
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    tracemalloc.start()  # traced separately: tracing slows numpy-heavy code down by half
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2_000, 20_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top-k", type=int, default=20)
    args = parser.parse_args()
    print(
        f"capacity 3, top_k {args.top_k}, SCALE {SCALE}; memory = tracemalloc peak (Python+numpy)"
    )
    header = (
        f"{'N':>6} {'mentors':>7} {'engine':>7} {'time s':>7} {'peak MB':>8} {'matched':>7} "
        f"{'total':>10} {'worst':>6} {'rounds':>6}"
    )
    print(header)
    for n in args.sizes:
        mentees, mentors = make_instance(n, args.seed)
        ours, t_ours, m_ours = measure(partial(match, mentees, mentors, top_k=args.top_k))
        base, t_base, m_base = measure(partial(greedy, mentees, mentors))
        for name, res, t, mem in (("ours", ours, t_ours, m_ours), ("greedy", base, t_base, m_base)):
            worst = f"{res.worst_score:.3f}" if res.worst_score is not None else "-"
            print(
                f"{n:>6} {len(mentors):>7} {name:>7} {t:>7.2f} {mem:>8.1f} "
                f"{res.stats['matched']:>7} {res.total_score:>10.2f} {worst:>6} "
                f"{res.stats.get('rounds', '-'):>6}"
            )
        ratio_worst = (
            f"{ours.worst_score / base.worst_score:.3f}"
            if ours.worst_score and base.worst_score
            else "-"
        )
        print(
            f"{'':>6} ours/greedy: time {t_ours / t_base:.2f}, matched "
            f"{ours.stats['matched'] / max(1, base.stats['matched']):.4f}, total "
            f"{ours.total_score / max(1e-9, base.total_score):.4f}, worst {ratio_worst}; "
            f"ours: candidates {ours.stats['candidates_seconds']:.2f} s, solve "
            f"{ours.stats['solve_seconds']:.2f} s, certify {ours.stats['certify_seconds']:.2f} s, "
            f"kept {ours.stats['kept_edges']}/{ours.stats['eligible_edges']} edges, "
            f"widened {ours.stats['widened_mentees']}"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process ru_maxrss at the end: {rss:.0f} MB (includes OR-Tools and the interpreter)")


if __name__ == "__main__":
    main()
