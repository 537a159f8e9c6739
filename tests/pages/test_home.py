"""Home under AppTest: an empty lab offers the demo and follows its job; a used lab shows its latest runs
and decision sessions."""

from __future__ import annotations

from core.access import LOCAL_ADMIN
from core.checklist.sessions import create_session, record_answer
from core.evaluation.demo_job import DemoJob
from core.jobs import queue, scheduler
from tests.history.runs_fixtures import eval_set, stored_run
from tests.pages.conftest import APP_PATH
from tests.training_fixtures import wait_until
from streamlit.testing.v1 import AppTest


def home() -> AppTest:
    return AppTest.from_file(APP_PATH, default_timeout=60).run()


def test_an_empty_lab_sets_up_the_demo_with_one_button_and_shows_its_job_running(db):
    at = home()
    assert not at.exception and any("This lab is empty" in info.value for info in at.info)
    assert any("No job is running" in caption.value for caption in at.caption)
    at.button[0].click().run()
    assert not at.exception and not at.error
    [job] = queue.list_jobs(db)
    assert job.kind == DemoJob.name
    assert any(f"(job {job.id}); the Evaluate page follows it" in s.value for s in at.success)
    try:
        assert any(f"Job {job.id} · " in bar.proto.text for bar in at.get("progress"))  # running now
    finally:
        scheduler.cancel(db, job.id)
        wait_until(db, job.id, [queue.CANCELLED, queue.SUCCEEDED])


def test_a_used_lab_shows_its_latest_runs_with_their_headline_score_and_its_sessions(db):
    session = create_session(db, "Support bot, Q3", actor=LOCAL_ADMIN)
    record_answer(db, session.id, "Ana", "checklist.changes_monthly", "yes", LOCAL_ADMIN)
    run = stored_run(db, eval_set(db, questions=4), {"token_f1": [0.5, 0.5, 1.0, 0.0], "rouge_l": [0.1] * 4})
    at = home()
    assert not at.exception and not at.error
    assert not any("This lab is empty" in info.value for info in at.info)
    runs, sessions = (table.value for table in at.dataframe)
    [row] = runs.to_dict("records")
    assert (row["Run"], row["System"], row["Headline metric"]) == (run.id, "local:smollm2", "token_f1")
    assert row["Score [95% interval]"].startswith("0.500 [")
    assert sessions.iloc[0]["Session"] == "Support bot, Q3" and sessions.iloc[0]["Participants"] == 1
