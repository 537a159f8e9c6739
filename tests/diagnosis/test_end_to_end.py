"""One path from a real eval job to the diagnosis: the tiny model, with and without a LoRA adapter, answers a
general-knowledge set as a background job, and the detectors read what the job stored."""

from __future__ import annotations

import json

from core.access import LOCAL_ADMIN
from core.diagnosis.diagnose import diagnose
from core.diagnosis.finding import Status
from core.evaluation.runs import RunOptions, get_run, submit_eval
from core.evaluation.sets import import_eval_set
from core.jobs import queue
from tests.training_fixtures import wait_until

QUESTIONS = [("What is 2 + 2?", "4"), ("Capital of France?", "Paris"), ("H2O is?", "water"),
             ("Days in a week?", "7"), ("Opposite of hot?", "cold"), ("len('ab') in Python?", "2")]


def test_a_tiny_models_run_with_and_without_its_adapter_is_diagnosed_from_what_the_job_stored(db, tiny_model_dir,
                                                                                              adapter):
    lines = [json.dumps({"id": f"g{n}", "question": q, "reference_answer": a, "tags": ["general", "test"]})
             for n, (q, a) in enumerate(QUESTIONS)]
    import_eval_set(db, "general-tiny", "\n".join(lines), "test", actor=LOCAL_ADMIN)
    base = f"local:{tiny_model_dir}?dtype=float32"
    tuned = f"local:{tiny_model_dir}?adapter={adapter}&dtype=float32"
    run = submit_eval(db, "general-tiny", [base, tuned], ["contains_reference", "token_f1"],
                      RunOptions(max_new_tokens=4), actor=LOCAL_ADMIN)
    assert wait_until(db, run.job_id, [queue.SUCCEEDED, queue.FAILED]).status == queue.SUCCEEDED
    run = get_run(db, run.id)

    diagnosis = diagnose(db, [run.id])

    by_mode = {finding.mode.key: finding for finding in diagnosis.findings if finding.subject == run.systems[1]}
    forgetting = by_mode["forgetting"]  # the pair the job asked, on its 6 questions: too few to clear it
    assert forgetting.status is Status.CANNOT_TELL and forgetting.runs == (run.id,)
    assert {figure.n for figure in forgetting.figures if figure.n is not None} == {6}
    latency = by_mode["latency"]  # 6 answers: too few for a p99
    assert latency.status is Status.CANNOT_TELL and "6 answer(s)" in latency.summary
    assert {finding.mode.key for finding in diagnosis.findings} == {
        "retrieval_recall", "context_ignored", "latency", "stale_facts", "forgetting", "overfitting",
        "self_disagreement"}
