"""DPO: preference pairs built from labelled answers, the method checked against the dataset, and a real
worker training the tiny model on the pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.diagnosis.fixtures import BASE, RAG, Answer, reference_set, stored_answers_run
from tests.training_fixtures import cancelled_with_a_checkpoint, metric_steps, wait_until

from core.access import LOCAL_ADMIN
from core.cli import main
from core.errors import InvalidInputError
from core.evaluation.labels import save_label
from core.evaluation.review import human_verdicts, settle
from core.evaluation.runs import results
from core.finetune.analysis import base_tokenizer, token_lengths
from core.finetune.builders import Split
from core.finetune.config import METHODS
from core.finetune.datasets import PREFERENCES, read_split
from core.finetune.job import submit_training
from core.finetune.monitor import LOAD_SECONDS, estimate
from core.finetune.preferences import build_preferences, labelled_answers
from core.finetune.trainer import check_lora_targets
from core.finetune.views import example_rows
from core.jobs import queue, scheduler
from core.llm.adapters import get_adapter


def labelled_run(db, set_name: str, labels: dict[str, list[list[str]]], texts: dict[str, list[str]]) -> int:
    """A run of `texts` (system -> answer per question) whose answer n of a system gets the labels
    `labels[system][n]`, one per reviewer (an empty list: not labelled)."""
    run = stored_answers_run(db, set_name, {system: [Answer(text) for text in answers]
                                            for system, answers in texts.items()})
    for result in results(db, run.id):
        for number, label in enumerate(labels[result.system][result.position]):
            save_label(db, result.id, f"reviewer{number}", label, actor=LOCAL_ADMIN)
    return run.id


def answer_id(db, run_id: int, system: str, position: int) -> int:
    return next(r.id for r in results(db, run_id) if r.system == system and r.position == position)


@pytest.fixture
def questions(db) -> str:
    return reference_set(db, "support", ["Paris", "Rome", "Oslo"])


def test_pairs_put_an_answer_labelled_correct_over_one_labelled_wrong(db, questions, base):
    first = labelled_run(db, questions, {BASE: [["wrong"], ["correct"], ["wrong"]],
                                         RAG: [["correct"], ["correct"], ["correct", "wrong"]]},
                         {BASE: ["Lyon.", "Rome.", "Bergen."], RAG: ["Paris [1].", "Rome [1].", "Oslo [2]."]})
    # Reviewers disagree on RAG's third answer: it counts only once settled.
    assert "Question 2?" not in [pair["prompt"][0]["content"] for pair in _pairs(db, "before-settling", base)]
    settle(db, answer_id(db, first, RAG, 2), "correct", actor=LOCAL_ADMIN)
    # A later run's wrong answer pairs with the first run's correct one.
    second = labelled_run(db, questions, {BASE: [[], ["wrong"], []]}, {BASE: ["Lyon.", "Milan.", "Bergen."]})

    pairs = {pair["prompt"][0]["content"]: pair for pair in _pairs(db, "prefs", base)}
    assert sorted(pairs) == ["Question 0?", "Question 1?", "Question 2?"]
    assert pairs["Question 0?"]["prompt"] == [{"role": "user", "content": "Question 0?"}]
    assert pairs["Question 0?"]["chosen"] == [{"role": "assistant", "content": "Paris [1]."}]
    assert pairs["Question 0?"]["rejected"] == [{"role": "assistant", "content": "Lyon."}]
    assert (pairs["Question 1?"]["chosen"][0]["content"], pairs["Question 1?"]["rejected"][0]["content"]) == (
        "Rome [1].", "Milan.")
    assert pairs["Question 1?"]["source"].endswith(f"over run {second} answer {answer_id(db, second, BASE, 1)}")
    assert pairs["Question 2?"]["chosen"][0]["content"] == "Oslo [2]."
    # The verdicts are the review page's: settled where reviewers disagreed, else their common label.
    for run_id in (first, second):
        assert {a.result_id: a.verdict for a in labelled_answers(db, [run_id])} == human_verdicts(db, run_id)


def test_pairs_from_chosen_runs_only(db, questions, base):
    labelled = labelled_run(db, questions, {BASE: [["wrong"], [], []], RAG: [["correct"], [], []]},
                            {BASE: ["Lyon.", "-", "-"], RAG: ["Paris.", "-", "-"]})
    other = labelled_run(db, questions, {BASE: [[], ["wrong"], []], RAG: [[], ["correct"], []]},
                         {BASE: ["-", "Milan.", "-"], RAG: ["-", "Rome.", "-"]})
    row = build_preferences(db, "only-first", [labelled], Split(base=base), actor=LOCAL_ADMIN)
    assert (row.details["runs"], row.details["pairs"], row.train_count + row.validation_count) == ([labelled], 1, 1)
    assert build_preferences(db, "both", None, Split(base=base), actor=LOCAL_ADMIN).details["runs"] == [labelled, other]


def test_no_pairs_says_what_the_labels_are_and_what_a_pair_needs(db, questions, base):
    run_id = labelled_run(db, questions, {BASE: [["correct"], ["partly"], ["correct", "wrong"]],
                                          RAG: [["correct"], [], ["wrong"]]},
                          {BASE: ["Paris.", "Rome?", "Oslo."], RAG: ["Paris!", "-", "Bergen."]})
    with pytest.raises(InvalidInputError) as refused:
        build_preferences(db, "prefs", [run_id], Split(base=base), actor=LOCAL_ADMIN)
    assert str(refused.value) == (
        f"No preference pairs: Run(s) {run_id} hold 5 labelled answer(s) to 3 question(s) (2 correct, 1 partly, "
        "1 wrong, 1 that reviewers disagree on and nobody settled). A pair needs a question with one answer "
        "labelled correct and another labelled wrong: label more answers (`python -m core review open RUN "
        "REVIEWER`), or settle the disagreements.")


def test_the_command_saves_pairs_and_shows_them(db, questions, base, capsys):
    run_id = labelled_run(db, questions, {BASE: [["wrong"], ["wrong"], []], RAG: [["correct"], ["correct"], []]},
                          {BASE: ["Lyon.", "Milan.", "-"], RAG: ["Paris.", "Rome.", "-"]})
    assert main(["dataset", "preferences", "prefs", "--run", str(run_id), "--base", base]) == 0
    out = capsys.readouterr().out
    assert out.startswith("prefs: 1 train / 1 validation example(s) (prompt_chosen_rejected); tokens p50 ")
    assert main(["dataset", "show", "prefs", "--json", "--examples", "1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    # Every prompt is an eval question, and the leakage report says so: evaluate the adapter on another set.
    exact = {(leak["split"], leak["eval_question"]) for leak in shown["details"]["leakage"] if leak["similarity"] == 1}
    assert len(exact) == 2 and {question for _, question in exact} == {"Question 0?", "Question 1?"}
    assert main(["dataset", "show", "prefs", "--examples", "1"]) == 0
    shown = capsys.readouterr().out
    assert "source: preferences (prompt_chosen_rejected)" in shown
    assert "\nuser: Question " in shown and "\nchosen: " in shown and "\nrejected: " in shown


def test_the_method_must_fit_the_dataset(db, questions, base, training):
    run_id = labelled_run(db, questions, {BASE: [["wrong"], [], []], RAG: [["correct"], [], []]},
                          {BASE: ["Lyon.", "-", "-"], RAG: ["Paris.", "-", "-"]})
    build_preferences(db, "prefs", [run_id], Split(base=base), actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="DPO learns from preference pairs, and dataset 'tiny-style' holds "
                                                "chat examples \\(from import\\): build pairs"):
        submit_training(db, training(method="dpo"), LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="Dataset 'prefs' holds preference pairs .* train on it with "
                                                "--method dpo"):
        submit_training(db, training(dataset="prefs"), LOCAL_ADMIN)
    assert queue.list_jobs(db) == []


def test_the_train_command_passes_the_method_on(db, dataset, capsys):
    assert main(["train", dataset.name, "--method", "dpo", "--beta", "0.2"]) == 2
    assert "DPO learns from preference pairs, and dataset 'tiny-style' holds chat examples" in capsys.readouterr().err
    assert queue.list_jobs(db) == []


def test_the_page_shows_a_pair_as_its_prompt_and_both_answers():
    pair = {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital?"}],
            "chosen": [{"role": "assistant", "content": "Paris."}],
            "rejected": [{"role": "assistant", "content": "Lyon."}]}
    assert example_rows([pair]) == [{"#": 1, "system": "Be brief.", "user": "Capital?", "chosen": "Paris.",
                                     "rejected": "Lyon."}]


def test_a_pair_is_measured_on_its_prompt_with_the_longer_answer(base):
    tokenizer = base_tokenizer(base)
    prompt = [{"role": "user", "content": "Capital of France?"}]
    pair = {"prompt": prompt, "chosen": [{"role": "assistant", "content": "Paris, on the Seine, since 987."}],
            "rejected": [{"role": "assistant", "content": "Lyon."}]}
    assert token_lengths([pair], tokenizer) == token_lengths([{"messages": prompt + pair["chosen"]}], tokenizer)
    assert token_lengths([pair], tokenizer) > token_lengths([{"messages": prompt + pair["rejected"]}], tokenizer)


def test_a_dpo_run_is_estimated_on_two_sequences_a_pair(db, dataset, training):
    planned = {method: estimate(db, training(method=method, eval_every=100), dataset).seconds - LOAD_SECONDS
               for method in METHODS}
    assert planned["dpo"] == pytest.approx(2 * planned["sft"])


def test_lora_targets_the_model_lacks_are_refused_before_either_method_builds_its_trainer(tiny_model_dir, training):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    check_lora_targets(model, training(target_modules=("c_attn", "v_proj")))  # one that fits is enough, as for peft
    with pytest.raises(InvalidInputError, match=r"LoRA target modules c_attn do not fit .*tiny-chat: its linear layers "
                                                r"are down_proj, gate_proj, k_proj, lm_head, o_proj, q_proj, up_proj, "
                                                r"v_proj\."):
        check_lora_targets(model, training(method="dpo", target_modules=("c_attn",)))


def test_the_training_config_checks_the_method_and_beta(training):
    with pytest.raises(InvalidInputError, match=r"beta must be more than 0 \(it is 0.0\); method 'ppo' is not one of "
                                                r"sft, dpo\."):
        training(method="ppo", beta=0.0)


@pytest.fixture
def pairs_dataset(db, base) -> str:
    """Ten pairs: a house-style answer labelled correct over a non-answer labelled wrong."""
    set_name = reference_set(db, "many", [f"Answer {n}" for n in range(10)])
    run_id = labelled_run(db, set_name, {BASE: [["wrong"]] * 10, RAG: [["correct"]] * 10},
                          {BASE: [f"I do not know {n}." for n in range(10)],
                           RAG: [f"TL;DR: answer {n}.\n— Acme" for n in range(10)]})
    dataset = build_preferences(db, "prefs", [run_id], Split(base=base), actor=LOCAL_ADMIN)
    assert dataset.source == PREFERENCES and len(read_split(dataset, "train")) == 9
    return dataset.name


@pytest.mark.slow
def test_a_dpo_job_trains_on_pairs_reports_its_rewards_and_registers_an_adapter(db, pairs_dataset, training):
    job = submit_training(db, training("tiny-dpo", dataset=pairs_dataset, method="dpo", learning_rate=5e-4),
                          LOCAL_ADMIN)
    assert job.title.endswith(", DPO)")
    job = wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    assert metric_steps(db, job.id, "train_loss") == [1, 2, 3, 4, 5, 6]
    assert set(metric_steps(db, job.id, "reward_accuracy")) == {1, 2, 3, 4, 5, 6}
    assert {2, 4, 6} <= set(metric_steps(db, job.id, "validation_loss"))
    assert set(metric_steps(db, job.id, "tokens_per_s")) == {1, 2, 3, 4, 5, 6}
    losses = [m.value for m in queue.job_metrics(db, [job.id]) if m.name == "train_loss"]
    assert losses[0] == pytest.approx(0.6931, abs=1e-3)  # log 2: the adapter starts equal to the reference
    last = {m.name: m.value for m in queue.job_metrics(db, [job.id]) if m.step == 6}
    # It learned the preference: the loss fell, and the adapter favours each chosen answer more than the base does.
    assert losses[-1] < losses[0] and last["reward_accuracy"] == 1.0 and last["validation_reward_margin"] > 0
    adapter = get_adapter(db, "tiny-dpo")
    assert adapter.job_id == job.id and adapter.dataset == "prefs" and adapter.final_validation_loss > 0
    saved = json.loads((Path(adapter.path) / "training_config.json").read_text())
    assert (saved["config"]["method"], saved["config"]["beta"]) == ("dpo", 0.1)
    assert json.loads((Path(adapter.path) / "adapter_config.json").read_text())["r"] == 4
    assert not (Path(adapter.path) / "ref").exists()  # the reference was the base, not a second adapter


@pytest.mark.slow
def test_a_cancelled_dpo_job_resumes_from_its_checkpoint(db, pairs_dataset, training):
    job, _ = cancelled_with_a_checkpoint(db, training(dataset=pairs_dataset, method="dpo", max_steps=16,
                                                      checkpoint_every=12))  # a DPO step takes ~1 s here
    job = wait_until(db, scheduler.resume(db, job.id).id, [queue.SUCCEEDED, queue.FAILED])
    assert job.status == queue.SUCCEEDED, job.error
    assert metric_steps(db, job.id, "train_loss") == list(range(1, 17))
    assert get_adapter(db, "tiny-adapter").config["method"] == "dpo"


def _pairs(db, name: str, base: str) -> list[dict]:
    row = build_preferences(db, name, None, Split(base=base), actor=LOCAL_ADMIN)
    return read_split(row, "train") + read_split(row, "validation")
