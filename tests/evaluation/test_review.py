"""The review queue: round-robin assignment, blind queues, agreement between reviewers (Krippendorff's
alpha, checked against the `krippendorff` package), settling disagreements, and who may do what."""

import json
import random
from collections import Counter

import krippendorff
import numpy as np
import pytest

from core.access import LOCAL_ADMIN, Actor, Role
from core.access.audit import audit_log
from core.access.users import add_user
from core.cli import main
from core.errors import AccessDeniedError, InvalidInputError, NotFoundError
from core.evaluation.labels import krippendorff_alpha, save_label
from core.evaluation.review import (assign_answer, human_scores, human_verdicts, my_queues, open_review,
                                    queued_answers, review_status, settle)
from core.evaluation.runs import results
from tests.history.runs_fixtures import eval_set, stored_systems_run

GRADES = ["wrong", "partly", "correct"]
BASE, RAG = "local", "local?kb=docs"


def random_units(rng: random.Random) -> list[list[str]]:
    return [[rng.choice(GRADES[:rng.randint(1, 3)]) for _ in range(rng.randint(0, 4))]
            for _ in range(rng.randint(2, 12))]


def reference_alpha(units: list[list[str]], level: str) -> float:
    raters = max(len(unit) for unit in units)
    data = np.full((raters, len(units)), np.nan)
    for column, unit in enumerate(units):
        for row, label in enumerate(unit):
            data[row, column] = GRADES.index(label)
    return krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=[0, 1, 2])


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("ordinal", [True, False])
def test_alpha_matches_the_reference_implementation(seed, ordinal):
    units = random_units(random.Random(seed))
    mine = krippendorff_alpha(units, ordinal=ordinal)
    if mine is None:  # not defined: too few comparable labels, or all the same
        assert sum(len(u) for u in units if len(u) >= 2) < 2 or len({x for u in units if len(u) >= 2 for x in u}) == 1
    else:
        assert mine == pytest.approx(reference_alpha(units, "ordinal" if ordinal else "nominal"))


def test_alpha_is_one_for_full_agreement_and_below_zero_for_systematic_disagreement():
    assert krippendorff_alpha([["correct", "correct"], ["wrong", "wrong"], ["partly", "partly"]]) == 1
    assert krippendorff_alpha([["correct", "wrong"], ["wrong", "correct"]]) < 0
    assert krippendorff_alpha([["correct"], ["wrong"]]) is None  # no answer has two labels


def two_system_run(db, questions: int = 3, judged: tuple[float, ...] = (1.0, 0.0, 0.5)):
    eval_set(db, "s", questions)
    return stored_systems_run(db, "s", {BASE: {"judge_correctness": list(judged[:questions])},
                                        RAG: {"judge_correctness": list(judged[:questions])}})


def test_round_robin_gives_each_answer_k_reviewers_and_each_reviewer_a_fair_share(db):
    run = two_system_run(db)
    assert open_review(db, run.id, ["ana", "ben", "cy"], per_answer=2, actor=LOCAL_ADMIN) == 12
    queues = {name: queued_answers(db, run.id, name) for name in ("ana", "ben", "cy")}
    assert [len(queue) for queue in queues.values()] == [4, 4, 4]
    per_answer = Counter(answer.result_id for queue in queues.values() for answer in queue)
    assert set(per_answer.values()) == {2} and len(per_answer) == 6
    assert open_review(db, run.id, ["ana", "ben", "cy"], per_answer=2, actor=LOCAL_ADMIN) == 0  # nothing twice
    assert open_review(db, run.id, ["dee"], actor=LOCAL_ADMIN) == 6  # a reviewer added later gets every answer


def test_a_queue_shows_the_question_and_the_answer_but_not_the_system(db):
    run = two_system_run(db, questions=1)
    open_review(db, run.id, ["ana"], actor=LOCAL_ADMIN)
    queue = queued_answers(db, run.id, "ana")
    assert [(a.position, a.question, a.answer, a.label) for a in queue] == [(1, "Question 0?", "answer 0", None),
                                                                             (2, "Question 0?", "answer 0", None)]
    assert not any(BASE in repr(answer) for answer in queue)
    save_label(db, queue[0].result_id, "ana", "partly", "half of it", actor=LOCAL_ADMIN)
    assert [(a.label, a.comment) for a in queued_answers(db, run.id, "ana")] == [("partly", "half of it"), (None, "")]
    [progress] = my_queues(db, "ana")
    assert (progress.run_id, progress.assigned, progress.labelled, progress.left) == (run.id, 2, 1, 1)
    assert my_queues(db, "ben") == []


def test_disagreements_are_listed_until_settled_and_the_verdicts_score_each_system(db):
    run = two_system_run(db, questions=2)
    open_review(db, run.id, ["ana", "ben"], per_answer=2, actor=LOCAL_ADMIN)
    answers = {(a.system, a.item_id): a.id for a in results(db, run.id)}
    given = {(BASE, "q0"): ("correct", "correct"), (BASE, "q1"): ("wrong", "partly"),
             (RAG, "q0"): ("correct", "correct"), (RAG, "q1"): ("correct", "correct")}
    for (system, item), (ana, ben) in given.items():
        save_label(db, answers[system, item], "ana", ana, actor=LOCAL_ADMIN)
        save_label(db, answers[system, item], "ben", ben, actor=LOCAL_ADMIN)

    status = review_status(db, run.id)
    [disputed] = status.disagreements
    assert (disputed.system, disputed.item_id, disputed.labels, disputed.settled) == (
        BASE, "q1", {"ana": "wrong", "ben": "partly"}, None)
    assert status.compared_answers == 4
    assert status.alpha == pytest.approx(reference_alpha([["correct", "correct"], ["wrong", "partly"],
                                                          ["correct", "correct"], ["correct", "correct"]], "ordinal"))
    assert answers[BASE, "q1"] not in human_verdicts(db, run.id)
    assert human_scores(db, run.id)[BASE].n == 1

    settle(db, answers[BASE, "q1"], "wrong", "the price is wrong", actor=LOCAL_ADMIN)
    assert human_verdicts(db, run.id)[answers[BASE, "q1"]] == "wrong"
    scores = human_scores(db, run.id)
    assert (scores[BASE].mean, scores[BASE].n, scores[RAG].mean) == (0.5, 2, 1.0)
    assert review_status(db, run.id).disagreements[0].settled == "wrong"
    assert [e.action for e in audit_log(db, LOCAL_ADMIN)] == ["review.settle", "review.open"]


def test_each_reviewer_is_compared_with_the_judge(db):
    run = two_system_run(db, questions=3, judged=(1.0, 0.0, 0.5))  # judge: correct, wrong, partly
    open_review(db, run.id, ["ana"], actor=LOCAL_ADMIN)
    for answer in results(db, run.id):
        save_label(db, answer.id, "ana", {"q0": "correct", "q1": "wrong", "q2": "partly"}[answer.item_id],
                   actor=LOCAL_ADMIN)
    [ana] = review_status(db, run.id).progress
    assert ana == {"reviewer": "ana", "queued": 6, "labelled": 6, "kappa with the judge": 1.0,
                   "judged answers compared": 6}


def test_only_admins_open_assign_and_settle(db):
    run = two_system_run(db, questions=1)
    answer = results(db, run.id)[0].id
    for role in (Role.VIEWER, Role.REVIEWER):
        someone = Actor("someone", role)
        with pytest.raises(AccessDeniedError, match="need the admin role"):
            open_review(db, run.id, ["ana"], actor=someone)
        with pytest.raises(AccessDeniedError, match="need the admin role"):
            assign_answer(db, answer, "ana", actor=someone)
        with pytest.raises(AccessDeniedError, match="need the admin role"):
            settle(db, answer, "correct", actor=someone)


def test_bad_requests_get_clear_messages(db):
    run = two_system_run(db, questions=1)
    answer = results(db, run.id)[0].id
    with pytest.raises(InvalidInputError, match="at least one reviewer"):
        open_review(db, run.id, [" "], actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="1 to 2 of the chosen reviewers"):
        open_review(db, run.id, ["ana", "ben"], per_answer=3, actor=LOCAL_ADMIN)
    with pytest.raises(NotFoundError, match="No run 999"):
        open_review(db, 999, ["ana"], actor=LOCAL_ADMIN)
    assign_answer(db, answer, "ana", actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="in ana's queue already"):
        assign_answer(db, answer, "ana", actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="one of correct, partly, wrong"):
        settle(db, answer, "fine", actor=LOCAL_ADMIN)


def test_with_sign_in_only_users_who_may_label_get_a_queue(db, monkeypatch):
    monkeypatch.setenv("RAGTUNE_AUTH", "password")
    run = two_system_run(db, questions=1)
    add_user(db, LOCAL_ADMIN, "rev@example.com", Role.REVIEWER, None)
    add_user(db, LOCAL_ADMIN, "vi@example.com", Role.VIEWER, None)
    with pytest.raises(AccessDeniedError, match="vi@example.com cannot be given a queue"):
        open_review(db, run.id, ["rev@example.com", "vi@example.com"], actor=LOCAL_ADMIN)
    with pytest.raises(NotFoundError):
        open_review(db, run.id, ["nobody@example.com"], actor=LOCAL_ADMIN)
    assert open_review(db, run.id, ["REV@example.com"], actor=LOCAL_ADMIN) == 2
    assert len(queued_answers(db, run.id, "rev@example.com")) == 2


def test_the_command_line_opens_reports_and_settles_and_refuses_a_viewer(db, capsys):
    run = two_system_run(db, questions=1)
    add_user(db, LOCAL_ADMIN, "vi@example.com", Role.VIEWER, None)
    assert main(["review", "open", str(run.id), "ana", "ben", "--per-answer", "2"]) == 0
    assert capsys.readouterr().out == f"run {run.id}: 4 answers queued\n"
    first, second = results(db, run.id)
    save_label(db, first.id, "ana", "correct", actor=LOCAL_ADMIN)
    save_label(db, first.id, "ben", "wrong", actor=LOCAL_ADMIN)
    assert main(["review", "queue", "ana"]) == 0
    assert capsys.readouterr().out == f"run {run.id}\ts\t1/2 labelled\n"
    assert main(["--as", "vi@example.com", "review", "settle", str(first.id), "partly"]) == 2
    assert "need the admin role" in capsys.readouterr().err
    assert main(["review", "settle", str(first.id), "partly"]) == 0
    assert main(["review", "status", str(run.id), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [d["settled"] for d in status["disagreements"]] == ["partly"]
    assert status["human"][first.system]["mean"] == 0.5
