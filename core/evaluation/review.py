"""The review queue: an admin opens a run for review and its answers go to chosen reviewers, round
robin with k reviewers an answer (or one answer by hand). Each reviewer labels their own queue blind
to the system that answered. The run then shows how far reviewers agree (Krippendorff's alpha), how
each agrees with the judge, and the answers they disagree on, which an admin settles.

An answer's human verdict is its reviewers' common label, or the settled one where they disagreed;
that verdict is what the `human` score of a system counts (correct 1, partly 0.5, wrong 0)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional, Sequence

from sqlmodel import Session, col, func, select

from core.access import Actor, Role, audit, require
from core.access.users import actor_for, list_users
from core.errors import InvalidInputError, NotFoundError
from core.settings import get_settings
from core.evaluation.catalog import JUDGE_CORRECTNESS
from core.evaluation.labels import GRADE_VALUES, LABELS, cohen_kappa, judge_label, krippendorff_alpha, run_labels
from core.evaluation.runs import run_items
from core.evaluation.stats import Estimate, bootstrap_mean
from core.store import Database
from core.store.tables import EvalItem, EvalLabel, EvalResult, EvalRun, EvalScore, ReviewAssignment, SettledLabel


@dataclass(frozen=True)
class QueuedAnswer:
    """An answer as its reviewer sees it: no system name, no retrieved context."""

    result_id: int
    position: int  # 1-based, in the reviewer's queue for this run
    question: str
    reference: str
    answer: str
    label: Optional[str]  # the reviewer's own, once given
    comment: str


@dataclass(frozen=True)
class QueueProgress:
    run_id: int
    eval_set: str
    assigned: int
    labelled: int

    @property
    def left(self) -> int:
        return self.assigned - self.labelled


@dataclass(frozen=True)
class Disagreement:
    result_id: int
    item_id: str
    system: str
    labels: dict[str, str]  # reviewer: label
    settled: Optional[str]


@dataclass(frozen=True)
class ReviewStatus:
    progress: list[dict]  # per reviewer: assigned, labelled, agreement with the judge
    alpha: Optional[float]  # Krippendorff's ordinal alpha over answers with two or more labels
    compared_answers: int
    disagreements: list[Disagreement]
    human: dict[str, Estimate]  # per system, over answers with a human verdict


def open_review(db: Database, run_id: int, reviewers: Sequence[str], per_answer: int = 1, *,
                actor: Actor) -> int:
    """Queue every answer of the run not yet queued for `per_answer` of `reviewers`, round robin over an
    order that mixes the systems; returns how many assignments it made."""
    require(actor, Role.ADMIN, "open a run for review")
    reviewers = _valid_reviewers(db, reviewers, actor)
    if not 1 <= per_answer <= len(reviewers):
        raise InvalidInputError(f"Each answer goes to 1 to {len(reviewers)} of the chosen reviewers, not {per_answer}.")
    with db.session(immediate=True) as session:
        answers = _answered(session, run_id)
        queued = {(a.result_id, a.reviewer) for a in _assignments(session, run_id)}
        random.Random(run_id).shuffle(answers)
        made = 0
        for index, answer_id in enumerate(answers):
            for offset in range(per_answer):
                reviewer = reviewers[(index * per_answer + offset) % len(reviewers)]
                if (answer_id, reviewer) not in queued:
                    _queue(session, run_id, answer_id, reviewer, actor)
                    made += 1
        audit.record(session, actor, "review.open", f"run {run_id}",
                     after={"reviewers": list(reviewers), "per_answer": per_answer, "assigned": made})
    return made


def assign_answer(db: Database, result_id: int, reviewer: str, *, actor: Actor) -> None:
    """Put one answer in one reviewer's queue, by hand."""
    require(actor, Role.ADMIN, "assign answers for review")
    [reviewer] = _valid_reviewers(db, [reviewer], actor)
    with db.session(immediate=True) as session:
        result = _result(session, result_id)
        if session.exec(select(ReviewAssignment).where(ReviewAssignment.result_id == result_id,
                                                       ReviewAssignment.reviewer == reviewer)).first():
            raise InvalidInputError(f"Answer {result_id} is in {reviewer}'s queue already.")
        _queue(session, result.run_id, result_id, reviewer, actor)
        audit.record(session, actor, "review.assign", f"answer {result_id}", after={"reviewer": reviewer})


def reviewer_candidates(db: Database) -> list[str]:
    """Who can be given a queue where people sign in: the enabled users who may label."""
    return [user.email for user in list_users(db) if not user.disabled and Role.named(user.role) >= Role.REVIEWER]


def my_queues(db: Database, reviewer: str) -> list[QueueProgress]:
    """The runs with answers queued for `reviewer`, and how many of them they have labelled."""
    with db.session(immediate=False) as session:
        rows = session.exec(
            select(ReviewAssignment.run_id, EvalRun.eval_set, func.count(), func.count(EvalLabel.id))
            .join(EvalRun, col(EvalRun.id) == ReviewAssignment.run_id)
            .outerjoin(EvalLabel, (col(EvalLabel.result_id) == ReviewAssignment.result_id)
                       & (col(EvalLabel.reviewer) == ReviewAssignment.reviewer))
            .where(ReviewAssignment.reviewer == reviewer)
            .group_by(ReviewAssignment.run_id, EvalRun.eval_set).order_by(col(ReviewAssignment.run_id).desc())).all()
    return [QueueProgress(run_id, eval_set, assigned, labelled) for run_id, eval_set, assigned, labelled in rows]


def queued_answers(db: Database, run_id: int, reviewer: str) -> list[QueuedAnswer]:
    """`reviewer`'s queue for one run, in queue order, blind to the systems."""
    with db.session(immediate=False) as session:
        run = session.get(EvalRun, run_id)
        rows = session.exec(
            select(EvalResult, EvalLabel)
            .join(ReviewAssignment, col(ReviewAssignment.result_id) == EvalResult.id)
            .outerjoin(EvalLabel, (col(EvalLabel.result_id) == EvalResult.id) & (col(EvalLabel.reviewer) == reviewer))
            .where(ReviewAssignment.run_id == run_id, ReviewAssignment.reviewer == reviewer)
            .order_by(ReviewAssignment.position)).all()
    items = {item.item_id: item for item in run_items(db, run)} if run else {}
    return [QueuedAnswer(result.id, number, _question(items, result.item_id), _reference(items, result.item_id),
                         result.text, label.label if label else None, label.comment if label else "")
            for number, (result, label) in enumerate(rows, start=1)]


def next_to_label(queue: Sequence[QueuedAnswer], position: int) -> int:
    """Where a reviewer goes after labelling the answer at `position`: the next unlabelled answer after
    it, else the first before it, else that answer again."""
    left = [answer.position for answer in queue if answer.label is None and answer.position != position]
    return next((p for p in left if p > position), left[0] if left else position)


def _question(items: dict[str, EvalItem], item_id: str) -> str:
    item = items.get(item_id)
    return item.question if item else f"(question {item_id}: its eval set was removed)"


def _reference(items: dict[str, EvalItem], item_id: str) -> str:
    item = items.get(item_id)
    return (item.reference_answer or "") if item else ""


def settle(db: Database, result_id: int, label: str, comment: str = "", *, actor: Actor) -> None:
    """Choose the label metrics use for an answer its reviewers disagree on (or change that choice)."""
    require(actor, Role.ADMIN, "settle a disagreement between reviewers")
    if label not in LABELS:
        raise InvalidInputError(f"A label is one of {', '.join(LABELS)}, not {label!r}.")
    with db.session(immediate=True) as session:
        result = _result(session, result_id)
        row = session.exec(select(SettledLabel).where(SettledLabel.result_id == result_id)).first()
        audit.record(session, actor, "review.settle", f"answer {result_id}",
                     before={"label": row.label} if row else None, after={"label": label})
        row = row or SettledLabel(run_id=result.run_id, result_id=result_id, label=label, created_by=actor.email)
        row.label, row.comment, row.created_by = label, comment.strip(), actor.email
        session.add(row)


def human_verdicts(db: Database, run_id: int) -> dict[int, str]:
    """Each labelled answer's human verdict: the settled label, else the label all its reviewers gave;
    answers whose reviewers disagree and that nobody settled have none yet."""
    labels = _labels_by_answer(db, run_id)
    verdicts = {answer: next(iter(set(given.values()))) for answer, given in labels.items()
                if len(set(given.values())) == 1}
    return verdicts | _settled(db, run_id)


def human_scores(db: Database, run_id: int) -> dict[str, Estimate]:
    """Per system, the mean of its human verdicts (correct 1, partly 0.5, wrong 0) with its interval."""
    verdicts = human_verdicts(db, run_id)
    with db.session(immediate=False) as session:
        systems = session.exec(select(EvalResult.id, EvalResult.system)
                               .where(col(EvalResult.id).in_(list(verdicts)))).all()
    values: dict[str, list[float]] = {}
    for answer_id, system in systems:
        values.setdefault(system, []).append(GRADE_VALUES[verdicts[answer_id]])
    return {system: bootstrap_mean(grades) for system, grades in sorted(values.items())}


def review_status(db: Database, run_id: int) -> ReviewStatus:
    labels, settled = _labels_by_answer(db, run_id), _settled(db, run_id)
    compared = [list(given.values()) for given in labels.values() if len(given) >= 2]
    return ReviewStatus(_progress(db, run_id), krippendorff_alpha(compared), len(compared),
                        _disagreements(db, labels, settled), human_scores(db, run_id))


def _progress(db: Database, run_id: int) -> list[dict]:
    judged = _judge_labels(db, run_id)
    with db.session(immediate=False) as session:
        queued = session.exec(select(ReviewAssignment.reviewer, func.count()).where(ReviewAssignment.run_id == run_id)
                              .group_by(ReviewAssignment.reviewer)).all()
    given: dict[str, dict[int, str]] = {}
    for label in run_labels(db, run_id):
        given.setdefault(label.reviewer, {})[label.result_id] = label.label
    rows = []
    for reviewer in sorted(set(given) | {name for name, _ in queued}):
        mine = given.get(reviewer, {})
        pairs = [(mine[a], judged[a]) for a in mine if a in judged]
        rows.append({"reviewer": reviewer, "queued": dict(queued).get(reviewer, 0), "labelled": len(mine),
                     "kappa with the judge": round(cohen_kappa(*zip(*pairs)), 2) if pairs else None,
                     "judged answers compared": len(pairs)})
    return rows


def _disagreements(db: Database, labels: dict[int, dict[str, str]], settled: dict[int, str]) -> list[Disagreement]:
    disputed = [answer for answer, given in labels.items() if len(set(given.values())) > 1]
    with db.session(immediate=False) as session:
        results = {r.id: r for r in session.exec(select(EvalResult).where(col(EvalResult.id).in_(disputed)))}
    return [Disagreement(answer, results[answer].item_id, results[answer].system, labels[answer], settled.get(answer))
            for answer in sorted(disputed, key=lambda a: (results[a].position, results[a].system))]


def _labels_by_answer(db: Database, run_id: int) -> dict[int, dict[str, str]]:
    labels: dict[int, dict[str, str]] = {}
    for label in run_labels(db, run_id):
        labels.setdefault(label.result_id, {})[label.reviewer] = label.label
    return labels


def _settled(db: Database, run_id: int) -> dict[int, str]:
    with db.session(immediate=False) as session:
        return dict(session.exec(select(SettledLabel.result_id, SettledLabel.label)
                                 .where(SettledLabel.run_id == run_id)).all())


def _judge_labels(db: Database, run_id: int) -> dict[int, str]:
    """The judge's correctness score of each judged answer, in the reviewers' three grades."""
    with db.session(immediate=False) as session:
        scores = session.exec(select(EvalScore.result_id, EvalScore.value)
                              .where(EvalScore.run_id == run_id, EvalScore.metric == JUDGE_CORRECTNESS,
                                     col(EvalScore.value).is_not(None))).all()
    return {answer: judge_label(value) for answer, value in scores}


def _valid_reviewers(db: Database, reviewers: Sequence[str], actor: Actor) -> list[str]:
    """Distinct names; where people sign in, each must be an enabled user who may label (else any name,
    as a label's reviewer is then any name typed)."""
    names = list(dict.fromkeys(name.strip() for name in reviewers if name.strip()))
    if not names:
        raise InvalidInputError("Choose at least one reviewer.")
    if get_settings().auth != "off":
        for index, name in enumerate(names):
            reviewer = actor_for(db, name)
            require(reviewer, Role.REVIEWER, f"review answers ({reviewer.email} cannot be given a queue)")
            names[index] = reviewer.email
    return names


def _answered(session: Session, run_id: int) -> list[int]:
    """The run's answers that can be graded (an answer that failed has nothing to label)."""
    if session.get(EvalRun, run_id) is None:
        raise NotFoundError(f"No run {run_id}: it may have been deleted.")
    answers = list(session.exec(select(EvalResult.id).where(EvalResult.run_id == run_id,
                                                            col(EvalResult.error).is_(None))
                                .order_by(EvalResult.position, EvalResult.system)))
    if not answers:
        raise InvalidInputError(f"Run {run_id} has no answer to review yet.")
    return answers


def _assignments(session: Session, run_id: int) -> list[ReviewAssignment]:
    return list(session.exec(select(ReviewAssignment).where(ReviewAssignment.run_id == run_id)))


def _queue(session: Session, run_id: int, result_id: int, reviewer: str, actor: Actor) -> None:
    last = session.exec(select(func.max(ReviewAssignment.position))
                        .where(ReviewAssignment.run_id == run_id, ReviewAssignment.reviewer == reviewer)).one()
    session.add(ReviewAssignment(run_id=run_id, result_id=result_id, reviewer=reviewer,
                                 position=(last or 0) + 1, created_by=actor.email))
    session.flush()


def _result(session: Session, result_id: int) -> EvalResult:
    result = session.get(EvalResult, result_id)
    if result is None:
        raise NotFoundError(f"No answer {result_id}: its run may have been deleted.")
    return result
