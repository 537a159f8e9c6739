"""The Evaluate page: eval sets listed and shown, the demo set up by one button, a set removed."""

from streamlit.testing.v1 import AppTest

from core.evaluation.sets import import_eval_file, list_eval_sets
from tests.pages.conftest import open_page


def evaluate() -> AppTest:
    return open_page("pages/evaluate.py")


def test_an_empty_store_says_how_to_start():
    at = evaluate()
    assert not at.exception
    assert any("No eval set yet" in info.value for info in at.info)


def test_sets_are_listed_shown_and_removed(db):
    import_eval_file(db, "eval_sets/demo/ledgerly-v1.jsonl")
    at = evaluate()
    assert not at.exception
    questions = at.dataframe[1].value
    assert len(questions) == 40 and questions.iloc[0]["id"] == "f01"
    at.button(key="ev_remove").click().run()
    assert not at.exception and list_eval_sets(db) == []
    assert any("Removed ledgerly-v1" in s.value for s in at.success)


def test_the_demo_button_sets_up_the_demo(db):
    at = evaluate()
    at.button(key="ev_demo").click().run()
    assert not at.exception
    assert any("Demo ready: 5 created" in s.value for s in at.success)
    assert [s.name for s in list_eval_sets(db)] == ["ledgerly-v1", "ledgerly-v2"]
