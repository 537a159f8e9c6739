"""Human labels: reviewers grade answers (correct / partly / wrong, with a comment) under their name;
a run reports how well its judge agrees with them (Cohen's kappa) and how well reviewers agree with
each other (Krippendorff's alpha)."""

from __future__ import annotations

from collections import Counter
from itertools import permutations
from typing import Optional, Sequence

from sqlmodel import select

from core.access import Actor, Role, require
from core.errors import AccessDeniedError, InvalidInputError, NotFoundError
from core.evaluation.catalog import JUDGE_CORRECTNESS
from core.store import Database
from core.store.tables import EvalLabel, EvalResult, EvalScore, utc_now

LABELS = ("correct", "partly", "wrong")
GRADE_VALUES = {"wrong": 0.0, "partly": 0.5, "correct": 1.0}  # the order ordinal agreement uses


def save_label(db: Database, result_id: int, reviewer: str, label: str, comment: str = "", *,
               actor: Actor) -> EvalLabel:
    """Record (or change) `reviewer`'s label of one answer; a signed-in user labels under their own name only."""
    require(actor, Role.REVIEWER, "label answers")
    reviewer = reviewer.strip()
    if actor.signed_in and reviewer != actor.email:
        raise AccessDeniedError(f"{actor.email} labels under their own name, not as {reviewer!r}.")
    if not reviewer:
        raise InvalidInputError("Labels are kept under the reviewer's name: enter your name first.")
    if label not in LABELS:
        raise InvalidInputError(f"A label is one of {', '.join(LABELS)}, not {label!r}.")
    with db.session(immediate=True) as session:
        result = session.get(EvalResult, result_id)
        if result is None:
            raise NotFoundError(f"No answer {result_id} to label: the run may have been deleted.")
        row = session.exec(select(EvalLabel).where(EvalLabel.result_id == result_id,
                                                   EvalLabel.reviewer == reviewer)).first()
        row = row or EvalLabel(run_id=result.run_id, result_id=result_id, reviewer=reviewer, label=label)
        row.label, row.comment, row.labelled_at = label, comment.strip(), utc_now()
        session.add(row)
    return row


def run_labels(db: Database, run_id: int) -> list[EvalLabel]:
    with db.session(immediate=False) as session:
        return list(session.exec(select(EvalLabel).where(EvalLabel.run_id == run_id)).all())


def judge_label(value: float) -> str:
    """The judge's 1-5 score, stored as (score - 1) / 4, in the reviewers' three grades."""
    score = round(value * 4) + 1
    return "correct" if score >= 4 else "partly" if score == 3 else "wrong"


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float:
    """Agreement of two raters beyond chance: 1 always agree, 0 as chance, below 0 worse than chance."""
    if len(first) != len(second) or not first:
        raise ValueError("kappa needs two equally long, non-empty sequences of labels")
    observed = sum(a == b for a, b in zip(first, second)) / len(first)
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[label] * counts_b[label] for label in counts_a) / len(first) ** 2
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def krippendorff_alpha(units: Sequence[Sequence[str]], ordinal: bool = True) -> Optional[float]:
    """Agreement of any number of reviewers beyond chance, when each answer has its own reviewers: one
    list of labels per answer; answers with one label cannot be compared and are left out. Ordinal
    treats partly as between wrong and correct. None where it is not defined (fewer than two
    comparable labels, or every label the same)."""
    pairable = [unit for unit in units if len(unit) >= 2]
    coincidences: Counter[tuple[str, str]] = Counter()
    for unit in pairable:
        for first, second in permutations(unit, 2):
            coincidences[first, second] += 1 / (len(unit) - 1)
    totals = Counter({label: 0.0 for label in GRADE_VALUES})
    for (first, _), weight in coincidences.items():
        totals[first] += weight
    n = sum(totals.values())
    distance = _ordinal_distance(totals) if ordinal else (lambda a, b: float(a != b))
    observed = sum(weight * distance(a, b) for (a, b), weight in coincidences.items())
    expected = sum(totals[a] * totals[b] * distance(a, b) for a in totals for b in totals) / (n - 1) if n > 1 else 0
    return 1 - observed / expected if expected else None


def _ordinal_distance(totals: Counter[str]):
    """Krippendorff's ordinal metric: how many labels lie between two grades, the grades counting half."""
    ranked = sorted(totals, key=GRADE_VALUES.get)

    def distance(first: str, second: str) -> float:
        low, high = sorted((ranked.index(first), ranked.index(second)))
        between = sum(totals[ranked[i]] for i in range(low, high + 1))
        return (between - (totals[first] + totals[second]) / 2) ** 2
    return distance


def judge_agreement(db: Database, run_id: int) -> Optional[dict]:
    """Cohen's kappa between the judge and the reviewers over every labelled, judged answer
    (one pair per label), or None when there is no such answer."""
    with db.session(immediate=False) as session:
        pairs = session.exec(select(EvalScore.value, EvalLabel.label)
                             .where(EvalLabel.result_id == EvalScore.result_id, EvalLabel.run_id == run_id,
                                    EvalScore.metric == JUDGE_CORRECTNESS, EvalScore.value.is_not(None))).all()
    if not pairs:
        return None
    judged, labelled = [judge_label(value) for value, _ in pairs], [label for _, label in pairs]
    return {"kappa": cohen_kappa(judged, labelled), "pairs": len(pairs),
            "agreement": sum(a == b for a, b in zip(judged, labelled)) / len(pairs)}
