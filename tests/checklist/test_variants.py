"""The experiment variants' table: what each variant uses, and how a system is told to be one."""

from __future__ import annotations

import pytest

from core.checklist.variants import VARIANTS, variant_labels, variant_with
from core.checklist.verdict import EXPERIMENTS


@pytest.mark.parametrize("key, knowledge_base, adapter", [
    ("base", False, False), ("rag", True, False), ("fine_tuned", False, True), ("rag_fine_tuned", True, True)])
def test_each_variant_says_what_it_uses_and_is_found_by_it(key, knowledge_base, adapter):
    variant = VARIANTS[key]
    assert (variant.uses_knowledge_base, variant.uses_adapter) == (knowledge_base, adapter)
    assert variant_with(knowledge_base=knowledge_base, adapter=adapter) is variant


def test_every_experiment_builds_variants_of_the_table():
    assert {key for plan in EXPERIMENTS.values() for key in plan.variants} == set(VARIANTS)


def test_labels_read_the_table_and_keep_a_key_it_lacks():
    assert variant_labels(["base", "rag_fine_tuned", "distilled"]) == "Base model, RAG + fine-tuned, distilled"
