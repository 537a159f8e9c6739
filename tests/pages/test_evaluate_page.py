"""The Evaluate page: eval sets listed and shown, the demo set up by a job one button starts, a set removed."""

import pytest
from streamlit.testing.v1 import AppTest

from core.access import LOCAL_ADMIN
from core.evaluation.sets import import_eval_file, list_eval_sets
from tests.pages.conftest import open_page


def evaluate() -> AppTest:
    return open_page("pages/evaluate.py")


def test_an_empty_store_says_how_to_start():
    at = evaluate()
    assert not at.exception
    assert any("No eval set yet" in info.value for info in at.info)


def test_sets_are_listed_shown_and_removed(db):
    import_eval_file(db, "eval_sets/demo/ledgerly-v1.jsonl", actor=LOCAL_ADMIN)
    at = evaluate()
    assert not at.exception
    questions = at.dataframe[1].value
    assert len(questions) == 40 and questions.iloc[0]["id"] == "f01"
    at.button(key="ev_remove").click().run()
    assert not at.exception and list_eval_sets(db) == []
    assert any("Removed ledgerly-v1" in s.value for s in at.success)


@pytest.mark.slow  # the embedding model, loaded by a worker or the CLI
def test_the_demo_button_submits_a_job_and_the_page_follows_it(db):
    from core.evaluation.demo_job import DemoJob
    from core.jobs import queue
    from tests.training_fixtures import wait_until

    at = evaluate()
    at.button(key="ev_demo_ledgerly").click().run()
    assert not at.exception and not at.error
    assert any("Setting up Ledgerly's docs v1 and v2 in the background (job 1)" in s.value for s in at.success)
    [job] = queue.list_jobs(db)
    assert job.kind == DemoJob.name and any("Job 1" in m.value for m in at.markdown)  # followed live, with Cancel
    assert at.button(key="job_cancel_1")
    wait_until(db, job.id, [queue.SUCCEEDED])
    at.run()  # the live list sees the job end, and the whole page runs again
    assert any("Ledgerly's docs v1 and v2 ready: 8 created, 0 already there." in c.value for c in at.caption)
    assert [s.name for s in list_eval_sets(db)] == ["general-knowledge", "ledgerly-paraphrased", "ledgerly-training",
                                                    "ledgerly-v1", "ledgerly-v2"]
    assert at.selectbox(key="ev_chosen").value == "general-knowledge"  # the first by name


def test_a_run_started_on_the_page_shows_its_results_and_answers(db, tiny_model_dir):
    from core.evaluation.runs import list_runs
    from core.jobs import queue
    from tests.training_fixtures import wait_until

    import_eval_file(db, "eval_sets/demo/ledgerly-v1.jsonl", actor=LOCAL_ADMIN)
    tiny = f"local:{tiny_model_dir}?dtype=float32"
    at = evaluate()
    at.multiselect(key="ev_run_systems").set_value([tiny])
    at.multiselect(key="ev_run_metrics").set_value(["token_f1", "keyword_presence"])
    at.number_input(key="ev_run_max_new").set_value(4)
    at.button[-1].click()  # the form's submit button: forms have no key of their own
    at.run()
    assert not at.exception and any("Run 1 started" in s.value for s in at.success)
    [(run, job)] = list_runs(db)
    wait_until(db, job.id, [queue.SUCCEEDED])

    at = evaluate()
    assert not at.exception and not at.error
    table = at.table[0].value
    assert table.iloc[0]["system"].startswith("local:") and table.iloc[0]["answered"] == 40
    assert "[" in table.iloc[0]["token_f1"]  # mean [low, high]
    assert any("token_f1" in c.value for c in at.caption)  # the first question's scores


def test_a_decision_sessions_experiment_fills_the_systems_and_links_the_run(db):
    from core.checklist.sessions import create_session
    from core.evaluation.runs import list_runs
    from core.jobs import scheduler
    from core.rag.config import KnowledgeBaseConfig
    from core.rag.knowledge import create_knowledge_base

    session = create_session(db, "Support bot", actor=LOCAL_ADMIN)  # a new session's verdict: start with RAG
    create_knowledge_base(db, "docs", KnowledgeBaseConfig(source_path="eval_sets/demo/docs/v1"))
    import_eval_file(db, "eval_sets/demo/ledgerly-v1.jsonl", actor=LOCAL_ADMIN)
    at = evaluate()
    at.selectbox(key="ev_exp_session").set_value(session.id).run()
    assert any("Compare:** Base model, RAG" in m.value for m in at.markdown)
    at.button(key="ev_exp_use").click().run()
    assert not at.exception
    assert at.multiselect(key="ev_run_systems").value == ["local:smollm2", "local:smollm2?kb=docs"]
    at.multiselect(key="ev_run_metrics").set_value(["token_f1"])
    at.button[-1].click().run()
    [(run, job)] = list_runs(db)
    scheduler.cancel(db, job.id)  # only the link is under test here
    assert run.decision_session_id == session.id and run.systems == ["local:smollm2", "local:smollm2?kb=docs"]


def test_a_link_from_history_opens_its_run(db):
    from streamlit.testing.v1 import AppTest

    from tests.history.runs_fixtures import eval_set, stored_run
    from tests.pages.conftest import APP_PATH

    name = eval_set(db)
    first, _ = stored_run(db, name, {"token_f1": [0.5] * 20}), stored_run(db, name, {"token_f1": [0.6] * 20})
    at = AppTest.from_file(APP_PATH, default_timeout=60).run()
    at.query_params["run"] = str(first.id)
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception and at.selectbox(key="ev_run_select").value == first.id  # not the newest


def test_a_link_from_diagnose_opens_its_run_at_the_question(db):
    from streamlit.testing.v1 import AppTest

    from tests.history.runs_fixtures import eval_set, stored_run
    from tests.pages.conftest import APP_PATH

    name = eval_set(db)
    first, _ = stored_run(db, name, {"token_f1": [0.5] * 20}), stored_run(db, name, {"token_f1": [0.6] * 20})
    at = AppTest.from_file(APP_PATH, default_timeout=60).run()
    at.query_params["run"], at.query_params["question"] = str(first.id), "q7"
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception and at.selectbox(key="ev_run_select").value == first.id
    assert at.selectbox(key=f"ev_item_{first.id}").value == "q7"


def test_contains_reference_is_defaulted_for_a_set_of_short_references_only(db):
    import json

    from core.evaluation.sets import import_eval_set

    short = "\n".join(json.dumps({"id": f"q{n}", "question": f"Price of plan {n}?", "reference_answer": f"${n}0"})
                      for n in range(3))
    import_eval_set(db, "prices", short, "test", actor=LOCAL_ADMIN)
    import_eval_file(db, "eval_sets/demo/ledgerly-v1.jsonl", actor=LOCAL_ADMIN)  # references of ~15 words
    at = evaluate()
    at.selectbox(key="ev_run_set").set_value("prices").run()
    assert not at.exception and "contains_reference" in at.multiselect(key="ev_run_metrics").value
    assert any("`contains_reference` and `exact_match`" in c.value for c in at.caption)  # which metric suits what
    at.selectbox(key="ev_run_set").set_value("ledgerly-v1").run()
    assert "contains_reference" not in at.multiselect(key="ev_run_metrics").value
    assert "token_f1" in at.multiselect(key="ev_run_metrics").value
