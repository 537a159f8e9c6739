"""The shipped general-knowledge set: it imports, its references are short and never given away by their own
question (so "the answer contains the reference" is a fair grade), it covers every category, no question repeats
a shipped training example, and the ledgerly demo imports it under the name the forgetting detector's advice uses."""

from __future__ import annotations

import json
from collections import Counter

from core.access import LOCAL_ADMIN
from core.evaluation.catalog import CONTAINS_REFERENCE, default_metrics
from core.evaluation.demo import DEMOS, GENERAL_FILE, Demo, set_up_demo
from core.evaluation.metrics import normalise
from core.evaluation.sets import eval_items, import_eval_file
from core.finetune.analysis import leakage_report
from core.finetune.builders import SAMPLE_FILE

GENERAL_SET = "general-knowledge"
CATEGORIES = {"arithmetic", "units", "geography", "science", "common-sense", "code"}


def test_the_general_set_imports_with_short_references_across_the_categories(db):
    eval_set = import_eval_file(db, GENERAL_FILE, actor=LOCAL_ADMIN)
    items = eval_items(db, eval_set.name)

    assert eval_set.name == GENERAL_SET and len(items) >= 100
    assert all(item.kind == "factual" and item.tags[0] == "general" and len(item.tags) == 2 for item in items)
    per_category = Counter(item.tags[1] for item in items)
    assert set(per_category) == CATEGORIES and min(per_category.values()) >= 15
    for item in items:
        reference = normalise(item.reference_answer)
        assert 1 <= len(reference.split()) <= 3, item.item_id
        assert f" {reference} " not in f" {normalise(item.question)} ", f"{item.item_id} gives its answer away"
    assert len({normalise(item.question) for item in items}) == len(items)
    assert CONTAINS_REFERENCE in default_metrics(items)


def test_no_question_nearly_repeats_a_shipped_training_example():
    """An adapter trained on the shipped samples would otherwise be graded on what it was taught."""
    examples = [json.loads(line) for path in SAMPLE_FILE.parent.glob("*.jsonl")
                for line in path.read_text().splitlines() if line.strip()]
    questions = [(f"line {number}", json.loads(line)["question"])
                 for number, line in enumerate(GENERAL_FILE.read_text().splitlines(), start=1)]
    assert len(examples) > 100 and leakage_report(examples, questions) == []


def test_the_ledgerly_demo_imports_it_as_general_knowledge(db, monkeypatch):
    [step] = [step for step in DEMOS["ledgerly"].steps() if step.what == f"eval set {GENERAL_SET}"]
    monkeypatch.setitem(DEMOS, "general-only", Demo("general-only", "General knowledge", "", lambda: [step]))

    assert set_up_demo(db, "general-only", actor=LOCAL_ADMIN).created == [f"eval set {GENERAL_SET}"]
    assert len(eval_items(db, GENERAL_SET)) == len(GENERAL_FILE.read_text().splitlines())
    assert GENERAL_SET in " ".join(DEMOS["ledgerly"].description.split())
