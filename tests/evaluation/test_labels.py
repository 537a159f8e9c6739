"""Human labels and judge-human agreement (Cohen's kappa, checked against scikit-learn)."""

import pytest
from sklearn.metrics import cohen_kappa_score

from core.access import LOCAL_ADMIN
from core.errors import InvalidInputError, NotFoundError
from core.evaluation.labels import cohen_kappa, judge_agreement, judge_label, run_labels, save_label
from core.evaluation.runs import finish_run, save_answers
from core.store.tables import EvalResult, EvalRun


@pytest.mark.parametrize("first, second", [
    (["correct", "wrong", "partly", "correct", "wrong"], ["correct", "wrong", "wrong", "correct", "partly"]),
    (["correct"] * 6 + ["wrong"] * 4, ["correct"] * 5 + ["wrong"] * 5),
    (["correct", "wrong"] * 5, ["wrong", "correct"] * 5),
    (["partly", "correct", "wrong", "partly"], ["partly", "correct", "wrong", "partly"]),
])
def test_kappa_matches_scikit_learn(first, second):
    assert cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second))


def test_the_judge_scale_maps_onto_the_reviewers_grades():
    assert [judge_label((score - 1) / 4) for score in range(1, 6)] == ["wrong", "wrong", "partly", "correct", "correct"]


def judged_run(db, values):
    """A finished run with one judged answer per value (no job: the rows as the runner writes them)."""
    with db.session() as session:
        run = EvalRun(eval_set="s", systems=["local"], metrics=["judge_correctness"], judge="anthropic")
        session.add(run)
    answers = [EvalResult(run_id=run.id, item_id=str(i), position=i, system="local:smollm2", text="t")
               for i in range(len(values))]
    save_answers(db, answers, [{"judge_correctness": (value, "r")} for value in values])
    finish_run(db, run.id, {})
    return run, answers


def test_agreement_is_kappa_over_labelled_judged_answers(db):
    run, answers = judged_run(db, [1.0, 0.0, 0.5, 1.0])
    assert judge_agreement(db, run.id) is None
    for answer, label in zip(answers, ["correct", "wrong", "wrong", "correct"]):
        save_label(db, answer.id, "Ana", label, actor=LOCAL_ADMIN)
    agreement = judge_agreement(db, run.id)
    assert agreement["pairs"] == 4 and agreement["agreement"] == 0.75
    assert agreement["kappa"] == pytest.approx(cohen_kappa_score(["correct", "wrong", "partly", "correct"],
                                                                 ["correct", "wrong", "wrong", "correct"]))


def test_a_reviewer_changes_their_label_and_bad_labels_are_refused(db):
    run, [answer] = judged_run(db, [1.0])
    save_label(db, answer.id, "Ana", "wrong", "misses the price", actor=LOCAL_ADMIN)
    save_label(db, answer.id, "Ana", "partly", actor=LOCAL_ADMIN)
    save_label(db, answer.id, "Ben", "correct", actor=LOCAL_ADMIN)
    assert sorted((label.reviewer, label.label) for label in run_labels(db, run.id)) == [("Ana", "partly"),
                                                                                         ("Ben", "correct")]
    with pytest.raises(InvalidInputError, match="enter your name"):
        save_label(db, answer.id, "  ", "correct", actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="one of correct, partly, wrong"):
        save_label(db, answer.id, "Ana", "great", actor=LOCAL_ADMIN)
    with pytest.raises(NotFoundError, match="No answer 999"):
        save_label(db, 999, "Ana", "correct", actor=LOCAL_ADMIN)


def test_a_reviewer_labels_an_answer_on_the_page_and_sees_the_agreement(db):
    from core.evaluation.sets import import_eval_set
    from tests.pages.conftest import open_page

    import_eval_set(db, "s", '{"id": "0", "question": "Team price?", "reference_answer": "$9."}', "test",
                    actor=LOCAL_ADMIN)
    run, [answer] = judged_run(db, [1.0])
    at = open_page("pages/evaluate.py")
    at.text_input(key="ev_reviewer").input("Ana")
    at.radio(key=f"ev_label_{answer.id}").set_value("correct")
    at.button(key=f"ev_save_{answer.id}").click().run()
    assert not at.exception and not at.error
    assert [(label.reviewer, label.label) for label in run_labels(db, run.id)] == [("Ana", "correct")]
    assert any("Cohen's kappa 1.00" in c.value for c in at.caption)
    assert any("Label · Ana: correct" in c.value for c in at.caption)
