"""Runs compared question by question, baselines, and the `runs` commands that gate on regressions."""

from __future__ import annotations

import json

import pytest

from core.access import LOCAL_ADMIN
from core.cli import main
from core.errors import InvalidInputError
from core.evaluation.runs import update_run
from core.evaluation.sets import get_eval_set, remove_eval_set
from core.evaluation.stats import Estimate
from core.history.baselines import baseline_of, check_against_baseline, set_baseline
from core.history.compare import DifferentContentError, compare_runs, verdict_of
from tests.history.runs_fixtures import eval_set, stored_run

GOOD = [1.0] * 16 + [0.0] * 4  # exact match 0.8
WORSE = [1.0] * 6 + [0.0] * 14  # 0.3: ten questions lost


def test_a_clear_drop_is_significant_and_a_regression(db):
    name = eval_set(db)
    a = stored_run(db, name, {"exact_match": GOOD, "token_f1": [0.8] * 20})
    b = stored_run(db, name, {"exact_match": WORSE, "token_f1": [0.8] * 19 + [0.75]})
    comparison = compare_runs(db, a.id, b.id)
    exact, f1 = comparison.metrics
    assert (exact.metric, exact.test.name, exact.questions) == ("exact_match", "McNemar", 20)
    assert exact.mean_a == 0.8 and exact.mean_b == 0.3 and exact.difference.mean == pytest.approx(-0.5)
    assert exact.p_value < 0.05 and exact.verdict == "B worse" and exact.regressed
    assert exact.worse == tuple(f"q{n}" for n in range(6, 16)) and exact.better == ()
    assert f1.test.name == "paired permutation" and f1.verdict == "not significant" and f1.worse == ("q19",)
    assert [m.metric for m in comparison.regressions] == ["exact_match"]


def test_runs_of_different_sets_or_unclear_systems_are_refused(db):
    a = stored_run(db, eval_set(db, "one"), {"exact_match": GOOD})
    b = stored_run(db, eval_set(db, "two"), {"exact_match": GOOD})
    with pytest.raises(InvalidInputError, match="different eval sets"):
        compare_runs(db, a.id, b.id)


def test_the_baseline_flags_later_regressions_and_the_cli_gates_on_them(db, capsys):
    name = eval_set(db)
    first = stored_run(db, name, {"exact_match": GOOD})
    same = stored_run(db, name, {"exact_match": GOOD})
    worse = stored_run(db, name, {"exact_match": WORSE})
    assert main(["runs", "baseline", str(first.id)]) == 0
    assert baseline_of(db, name).id == first.id
    assert check_against_baseline(db, same).regressions == {}
    assert list(check_against_baseline(db, worse).regressions) == ["local:smollm2"]
    set_baseline(db, same.id, LOCAL_ADMIN)
    assert baseline_of(db, name).id == same.id  # one baseline per set

    capsys.readouterr()
    assert main(["runs", "compare", str(first.id), str(worse.id), "--fail-on-regression"]) == 1
    assert "exact_match: 0.800 -> 0.300" in capsys.readouterr().out
    assert main(["runs", "compare", str(first.id), str(same.id), "--fail-on-regression"]) == 0
    assert "not significant" in capsys.readouterr().out
    assert main(["runs", "list", "--json"]) == 0
    listed = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert listed[worse.id]["regressions"] == {"local:smollm2": ["exact_match"]} and listed[same.id]["baseline"]
    assert main(["runs", "compare", str(first.id), "999"]) == 2  # a clear message, not a traceback


def test_runs_of_one_set_name_imported_again_with_changed_questions_are_refused(db, capsys):
    name = eval_set(db)
    before = stored_run(db, name, {"exact_match": GOOD})
    first_hash = get_eval_set(db, name).sha256
    remove_eval_set(db, name, actor=LOCAL_ADMIN)
    eval_set(db, name, wording="Changed question")
    after = stored_run(db, name, {"exact_match": WORSE})
    with pytest.raises(DifferentContentError, match="different contents of eval set 's'") as refused:
        compare_runs(db, before.id, after.id)
    assert first_hash[:12] in str(refused.value) and get_eval_set(db, name).sha256[:12] in str(refused.value)
    set_baseline(db, before.id, LOCAL_ADMIN)
    check = check_against_baseline(db, after)
    assert check.regressions == {} and check.notes == (str(refused.value),)  # refused, said, not a regression
    capsys.readouterr()
    assert main(["runs", "compare", str(before.id), str(after.id)]) == 2
    assert "different contents" in capsys.readouterr().err


def test_runs_of_the_same_content_imported_again_compare(db):
    name = eval_set(db)
    before = stored_run(db, name, {"exact_match": GOOD})
    remove_eval_set(db, name, actor=LOCAL_ADMIN)
    eval_set(db, name)
    after = stored_run(db, name, {"exact_match": WORSE})
    comparison = compare_runs(db, before.id, after.id)
    assert comparison.notes == () and [m.metric for m in comparison.regressions] == ["exact_match"]


def test_a_run_whose_content_was_not_recorded_is_compared_but_flagged(db, capsys):
    name = eval_set(db)
    old = update_run(db, stored_run(db, name, {"exact_match": GOOD}).id, eval_set_id=None, eval_set_sha256=None)
    new = stored_run(db, name, {"exact_match": WORSE})
    comparison = compare_runs(db, old.id, new.id)
    flag = f"The eval set's content is not recorded for run {old.id}: check it is the same."
    assert comparison.notes == (flag,) and comparison.regressions
    set_baseline(db, old.id, LOCAL_ADMIN)
    assert check_against_baseline(db, new).notes == (flag,)
    capsys.readouterr()
    main(["runs", "compare", str(old.id), str(new.id)])
    assert f"NOTE: {flag}" in capsys.readouterr().out


@pytest.mark.parametrize("low, high, p_value, higher_is_better, expected", [
    (-0.3, -0.1, 0.01, True, "B worse"), (0.1, 0.3, 0.01, True, "B better"), (-0.3, -0.1, 0.01, False, "B better"),
    (-0.3, -0.1, 0.2, True, "not significant"),  # the interval alone does not make a verdict
    (-0.3, 0.05, 0.01, True, "unclear"),  # nor does the test alone
])
def test_one_rule_needs_the_adjusted_test_and_the_interval_to_agree(low, high, p_value, higher_is_better, expected):
    assert verdict_of(Estimate((low + high) / 2, low, high, 20), p_value, higher_is_better) == expected


BORDERLINE = [1.0] * 9 + [0.0] * 11  # seven questions lost against GOOD, all one way: McNemar p = 2/2**7
UNCHANGED = {metric: [0.5] * 20 for metric in ("token_f1", "rouge_l", "bleu", "string_similarity")}


def test_a_borderline_drop_significant_alone_is_not_a_regression_among_many_tests(db):
    name = eval_set(db)
    alone = compare_runs(db, stored_run(db, name, {"exact_match": GOOD}).id,
                         stored_run(db, name, {"exact_match": BORDERLINE}).id)
    assert alone.metrics[0].test.p_value == pytest.approx(2 / 2 ** 7) and alone.metrics[0].regressed
    baseline = stored_run(db, name, {"exact_match": GOOD, **UNCHANGED})
    later = stored_run(db, name, {"exact_match": BORDERLINE, **UNCHANGED})
    [exact] = [m for m in compare_runs(db, baseline.id, later.id).metrics if m.metric == "exact_match"]
    assert exact.test.p_value == pytest.approx(2 / 2 ** 7) and exact.p_value == pytest.approx(5 * 2 / 2 ** 7)
    assert exact.difference.high < 0 and exact.verdict == "not significant" and not exact.regressed
    set_baseline(db, baseline.id, LOCAL_ADMIN)
    check = check_against_baseline(db, later)
    assert check.regressions == {} and check.tests == 5
