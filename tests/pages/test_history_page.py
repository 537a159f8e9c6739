"""The History page under AppTest: an empty store, and a store with many runs to chart and compare."""

from __future__ import annotations

from tests.history.runs_fixtures import eval_set, stored_run
from tests.pages.conftest import open_page


def history():
    return open_page("pages/history.py")


def test_an_empty_store_says_where_runs_come_from(db):
    at = history()
    assert not at.exception
    assert any("No finished eval run yet" in info.value for info in at.info)


def test_many_runs_are_charted_and_two_compare_with_a_significance_statement(db):
    name = eval_set(db, questions=20)
    for n in range(12):
        stored_run(db, name, {"exact_match": [1.0] * (8 + n % 3) + [0.0] * (12 - n % 3),
                              "token_f1": [0.5 + (n % 4) / 10] * 20})
    worse = stored_run(db, name, {"exact_match": [0.0] * 20, "token_f1": [0.2] * 20})
    at = history()
    assert not at.exception and not at.error
    titles = [chart.proto.spec for chart in at.get("plotly_chart")]
    assert len(titles) == 5 and "token_f1 over time" in titles[0] and "Latency per run" in titles[1]
    assert "Break-even" in titles[3] and "Freshness" in titles[4]
    assert list(at.table[-1].value.columns) == ["", "Base model"]  # the variants table: one column per variant
    assert at.table[0].value.iloc[0]["run"] == worse.id  # newest first

    at.selectbox(key="hist_baseline_run").set_value(1).run()
    at.button(key="hist_make_baseline").click().run()
    assert any("Run 1 is now the baseline" in s.value for s in at.success)
    at.selectbox(key="hist_baseline_run").set_value(worse.id).run()
    assert any("regressed against the baseline" in e.value and "exact_match" in e.value for e in at.error)

    at.multiselect(key="hist_compare").set_value([1, 2]).run()
    compared = at.table[1].value
    assert set(compared["metric"]) == {"exact_match", "token_f1"}
    assert "not significant" in set(compared["verdict"])  # runs 1 and 2 differ by one question
    assert any("Holm-adjusted over the 2 paired test(s)" in caption.value for caption in at.caption)


def test_a_tag_narrows_the_charts_to_its_questions(db):
    from core.access import LOCAL_ADMIN
    from core.evaluation.sets import import_eval_set

    import_eval_set(db, "tagged", '{"id": "q0", "question": "a", "tags": ["pricing"]}\n'
                                  '{"id": "q1", "question": "b"}', "test", actor=LOCAL_ADMIN)
    stored_run(db, "tagged", {"token_f1": [0.2, 0.8]})
    at = history()
    assert "0.5" in at.get("plotly_chart")[0].proto.spec  # both questions: mean 0.5
    at.selectbox(key="hist_tag").set_value("pricing").run()
    spec = at.get("plotly_chart")[0].proto.spec
    assert not at.exception and '"y":[0.2]' in spec  # the tagged question alone


def test_a_refused_pair_is_said_in_place_and_the_rest_of_the_page_still_shows(db):
    from core.access import LOCAL_ADMIN
    from core.evaluation.sets import remove_eval_set

    name = eval_set(db, questions=4)
    stored_run(db, name, {"exact_match": [1.0] * 4})
    remove_eval_set(db, name, actor=LOCAL_ADMIN)
    eval_set(db, name, questions=4, wording="Changed question")
    stored_run(db, name, {"exact_match": [0.0] * 4})
    at = history()
    at.multiselect(key="hist_compare").set_value([1, 2]).run()
    assert not at.exception and any("different contents of eval set" in e.value for e in at.error)
    assert "Break-even" in at.get("plotly_chart")[3].proto.spec  # the sections below the comparison rendered
