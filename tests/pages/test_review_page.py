"""The Review page under AppTest: an admin opens a run for review, a reviewer labels their queue blind
and moves on to the next answer, a disagreement is settled, and the Evaluate table shows the verdicts."""

from core.access import LOCAL_ADMIN, Role
from core.access.users import add_user
from core.evaluation.labels import run_labels, save_label
from core.evaluation.review import human_verdicts, open_review
from core.evaluation.runs import results
from tests.history.runs_fixtures import eval_set, stored_systems_run
from tests.pages.conftest import PASSWORD, open_page, signed_in

BASE, RAG = "local", "local?kb=docs"


def two_system_run(db):
    eval_set(db, "s", 2)
    return stored_systems_run(db, "s", {BASE: {"token_f1": [0.5, 0.1]}, RAG: {"token_f1": [0.9, 0.2]}})


def test_an_admin_opens_a_run_and_a_reviewer_labels_their_queue_blind(db):
    run = two_system_run(db)
    at = open_page("pages/review.py")
    at.multiselect(key="rv_open_reviewers").set_value(["ana", "ben"]).run()
    at.number_input(key="rv_open_per_answer").set_value(2)
    at.button(key="rv_open").click().run()
    assert not at.exception and not at.error
    assert any(f"Run {run.id}: 8 answers queued for ana, ben." in s.value for s in at.success)

    at.text_input(key="rv_reviewer").input("ana").run()
    assert at.selectbox(key="rv_queue_run").value == run.id
    page_text = " ".join(m.value for m in at.markdown) + " ".join(t.value for t in at.text)
    assert "Question" in page_text and BASE not in page_text and RAG not in page_text  # blind
    for grade in ("correct", "wrong"):
        answer_id = int(at.radio[0].key.removeprefix("rv_grade_"))
        at.radio[0].set_value(grade).run()
        at.button(key="rv_save").click().run()
        assert not at.exception and not at.error
        assert int(at.radio[0].key.removeprefix("rv_grade_")) != answer_id  # moved on to the next answer
    assert sorted(label.label for label in run_labels(db, run.id)) == ["correct", "wrong"]
    assert "2 of 4 labelled" in at.get("progress")[0].proto.text


def test_disagreements_are_settled_on_the_page_and_reach_the_evaluate_table(db):
    run = two_system_run(db)
    open_review(db, run.id, ["ana", "ben"], per_answer=2, actor=LOCAL_ADMIN)
    answers = results(db, run.id)
    for answer in answers:
        save_label(db, answer.id, "ana", "correct", actor=LOCAL_ADMIN)
        save_label(db, answer.id, "ben", "wrong" if answer is answers[0] else "correct", actor=LOCAL_ADMIN)
    at = open_page("pages/review.py")
    assert any("Krippendorff's alpha" in c.value for c in at.caption)
    assert any("1 to settle" in m.value for m in at.markdown)
    at.selectbox(key=f"rv_settle_{answers[0].id}").set_value("partly").run()
    assert not at.exception and not at.error
    assert human_verdicts(db, run.id)[answers[0].id] == "partly"
    assert any("0 to settle" in m.value for m in at.markdown)

    at.switch_page("pages/evaluate.py").run()
    human = [row for row in at.table[0].value.to_dict("records")]
    assert [row["human (reviewers' verdicts)"][:5] for row in human] == ["0.750", "1.000"]


def test_a_signed_in_reviewer_finds_their_queue_on_home_and_labels_under_their_own_name(db, password_auth):
    add_user(db, LOCAL_ADMIN, "rev@example.com", Role.REVIEWER, PASSWORD)
    run = two_system_run(db)
    open_review(db, run.id, ["rev@example.com"], actor=LOCAL_ADMIN)
    at = signed_in("rev@example.com")
    assert any(f"Run {run.id} · s · 0 of 4 labelled" in bar.proto.text for bar in at.get("progress"))
    at.switch_page("pages/review.py").run()
    assert not at.exception and not at.error
    assert any("Opening a run for review needs the admin role; you are a reviewer." in c.value for c in at.caption)
    at.radio[0].set_value("partly").run()
    at.button(key="rv_save").click().run()
    assert [(label.reviewer, label.label) for label in run_labels(db, run.id)] == [("rev@example.com", "partly")]
