"""Sweeps: a grid of training jobs over learning rate x rank, each evaluated when asked, the best marked.

The table's rule is tested on jobs and runs written straight into the store; training and the eval after it
run for real on the tiny model, one worker at a time."""

from __future__ import annotations

import json

import pytest

from core.access import LOCAL_ADMIN, Actor, Role
from core.cli import main
from core.errors import AccessDeniedError, AlreadyExistsError, InvalidInputError
from core.evaluation.runs import get_run
from core.evaluation.sets import import_eval_set
from core.finetune.config import TrainingConfig
from core.finetune.sweep import VALIDATION_LOSS, SweepPlan, member_name, submit_sweep, sweep_table, sweep_tables
from core.jobs import queue
from core.llm.adapters import get_adapter
from tests.finetune.sweep_fixtures import METRIC, stored_member
from tests.training_fixtures import wait_until


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_grid_is_every_learning_rate_with_every_rank_alpha_twice_the_rank():
    plan = SweepPlan("house", TrainingConfig(dataset="house-style", adapter_name="house", max_steps=50))
    members = plan.members()
    assert [(m.adapter_name, m.learning_rate, m.lora_r, m.lora_alpha) for m in members] == [
        ("house-lr1e-4-r8", 1e-4, 8, 16), ("house-lr1e-4-r16", 1e-4, 16, 32),
        ("house-lr3e-4-r8", 3e-4, 8, 16), ("house-lr3e-4-r16", 3e-4, 16, 32)]
    assert {(m.dataset, m.max_steps) for m in members} == {("house-style", 50)}
    assert member_name("s", 2.5e-5, 4) == "s-lr2.5e-5-r4"
    with pytest.raises(InvalidInputError, match="Two grid points would share an adapter name"):
        SweepPlan("s", plan.template, learning_rates=(1e-4, 1.0000001e-4)).members()
    with pytest.raises(InvalidInputError, match="A sweep of 18 grid points is more than the 16"):
        SweepPlan("s", plan.template, learning_rates=[i / 1000 for i in range(1, 10)]).members()


def test_a_viewer_may_not_start_a_sweep(db, training):
    with pytest.raises(AccessDeniedError, match="To start a sweep you need the admin role; vi@example.com is a viewer"):
        submit_sweep(db, SweepPlan("s", training()), Actor("vi@example.com", Role.VIEWER))
    assert queue.list_jobs(db) == []


def test_a_sweep_with_one_bad_member_queues_none(db, training):
    with pytest.raises(InvalidInputError, match="learning_rate must be between 0 and 1"):
        submit_sweep(db, SweepPlan("s", training(), learning_rates=(1e-4, 5.0), ranks=(4,)), LOCAL_ADMIN)
    planted = queue.submit_job(db, "train", {"training": {"adapter_name": "s-lr3e-4-r4"}})  # queued, never started
    with pytest.raises(InvalidInputError, match="already trains an adapter named 's-lr3e-4-r4'"):
        submit_sweep(db, SweepPlan("s", training(), ranks=(4,)), LOCAL_ADMIN)
    assert [job.id for job in queue.list_jobs(db)] == [planted.id]


def test_a_metric_that_cannot_grade_the_eval_set_is_refused_before_queueing(db, training):
    import_eval_set(db, "refs", json.dumps({"id": "a", "question": "Plan?", "reference_answer": "Pocket"}), "test",
                    actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="'keyword_presence' cannot grade an adapter's answers to 'refs'"):
        submit_sweep(db, SweepPlan("s", training(), eval_set="refs", metric="keyword_presence"), LOCAL_ADMIN)
    assert queue.list_jobs(db) == []


def test_the_best_is_the_lowest_validation_loss_until_every_member_has_its_eval_metric(db):
    sweep = {"name": "s", "eval_set": "set", "metric": METRIC, "higher_is_better": True}
    stored_member(db, sweep, 1e-4, loss=0.9, mean=0.7)
    stored_member(db, sweep, 2e-4, loss=0.5, mean=0.2)
    stored_member(db, sweep, 3e-4)  # still training
    table = sweep_table(db, "s")
    assert [m.status for m in table.members] == [queue.SUCCEEDED, queue.SUCCEEDED, queue.RUNNING]
    assert (table.best_by, table.best.adapter) == (VALIDATION_LOSS, "s-lr2e-4-r8")
    assert table.members[0].estimate == pytest.approx({"mean": 0.7, "low": 0.6, "high": 0.8, "n": 20})

    stored_member(db, {**sweep, "name": "t"}, 1e-4, loss=0.9, mean=0.7)
    stored_member(db, {**sweep, "name": "t"}, 2e-4, loss=0.5, mean=0.2)
    assert (sweep_table(db, "t").best_by, sweep_table(db, "t").best.adapter) == (METRIC, "t-lr1e-4-r8")
    stored_member(db, {**sweep, "name": "u", "higher_is_better": False}, 1e-4, loss=0.9, mean=0.7)
    stored_member(db, {**sweep, "name": "u", "higher_is_better": False}, 2e-4, loss=0.4, mean=0.2)
    assert sweep_table(db, "u").best.adapter == "u-lr2e-4-r8"
    assert [table.name for table in sweep_tables(db)] == ["u", "t", "s"]


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_a_2x1_sweep_trains_both_members_and_marks_the_lowest_validation_loss(db, training, capsys):
    jobs = submit_sweep(db, SweepPlan("grid", training(max_steps=4), learning_rates=(1e-4, 1e-2), ranks=(4,)),
                        LOCAL_ADMIN)
    assert [job.status for job in jobs] == [queue.RUNNING, queue.QUEUED]  # one slot: they queue
    for job in jobs:
        assert wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED]).status == queue.SUCCEEDED
    losses = {name: get_adapter(db, name).final_validation_loss for name in ("grid-lr1e-4-r4", "grid-lr1e-2-r4")}
    best = min(losses, key=losses.get)
    table = sweep_table(db, "grid")
    assert {m.adapter: m.validation_loss for m in table.members} == losses
    assert (table.best_by, table.best.adapter, table.eval_set) == (VALIDATION_LOSS, best, None)
    with pytest.raises(AlreadyExistsError, match="A sweep named 'grid' exists"):
        submit_sweep(db, SweepPlan("grid", training(), ranks=(2,)), LOCAL_ADMIN)

    code, out, _ = run_cli(capsys, "train", "sweeps")
    base = training().base_model
    assert code == 0 and out == f"grid\ttiny-style\t{base}\t2/2 trained\tbest {best} by validation loss\n"
    code, out, _ = run_cli(capsys, "train", "sweep-show", "grid")
    marked = [line for line in out.splitlines() if line.startswith("* ")]
    assert code == 0 and marked == [line for line in out.splitlines() if line.startswith(f"* {best}\t")]
    assert f"Best: {best}, by the lowest final validation loss ({losses[best]:.4f})." in out
    code, out, _ = run_cli(capsys, "train", "sweep-show", "grid", "--json")
    assert [(m["learning_rate"], m["best"]) for m in json.loads(out)["members"]] == [
        (1e-4, best == "grid-lr1e-4-r4"), (1e-2, best == "grid-lr1e-2-r4")]


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_a_sweep_started_from_the_command_line_evaluates_each_adapter_once_trained(db, dataset, tiny_model_dir,
                                                                                  capsys):
    items = [{"id": "a", "question": "Question number 1?", "reference_answer": "TL;DR: no."},
             {"id": "b", "question": "Question number 2?", "reference_answer": "TL;DR: yes."}]
    import_eval_set(db, "style", "\n".join(json.dumps(item) for item in items), "test", actor=LOCAL_ADMIN)
    code, out, err = run_cli(capsys, "train", "sweep", dataset.name, "--name", "judged", "--lr", "1e-3", "--rank", "4",
                             "--eval-set", "style", "--base", str(tiny_model_dir), "--max-steps", "2",
                             "--batch-size", "4", "--max-length", "64", "--eval-every", "2", "--precision", "fp32",
                             "--device", "cpu")
    assert code == 0, err
    job = wait_until(db, int(out), [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    run = get_run(db, job.result["eval_run_id"])
    assert run.systems == [f"local:{tiny_model_dir}?adapter=judged-lr1e-3-r4"] and run.metrics == [METRIC]
    assert wait_until(db, run.job_id, [queue.SUCCEEDED, queue.FAILED]).status == queue.SUCCEEDED
    estimate = get_run(db, run.id).summary[run.systems[0]]["metrics"][METRIC]
    table = sweep_table(db, "judged")
    [member] = table.members
    assert (member.eval_run_id, member.eval_status, member.estimate["n"]) == (run.id, queue.SUCCEEDED, 2)
    assert member.estimate["mean"] == estimate["mean"] and (table.best_by, member.best) == (METRIC, True)
    code, out, _ = run_cli(capsys, "train", "sweep-show", "judged")
    assert f"{METRIC}={estimate['mean']:.2f} [" in out and "eval succeeded" in out
