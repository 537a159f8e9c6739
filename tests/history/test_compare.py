"""Runs compared question by question, baselines, and the `runs` commands that gate on regressions."""

from __future__ import annotations

import json

import pytest

from core.access import LOCAL_ADMIN
from core.cli import main
from core.errors import InvalidInputError
from core.history.baselines import baseline_of, regressions, set_baseline
from core.history.compare import compare_runs
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
    assert exact.test.significant and exact.verdict == "B worse" and exact.regressed
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
    assert regressions(db, same) == {} and list(regressions(db, worse)) == ["local:smollm2"]
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
