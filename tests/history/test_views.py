"""History's reads: freshness per variant across two eval sets, and the cache key that follows writes."""

from __future__ import annotations

from core.history.baselines import set_baseline
from core.history.views import freshness_rows, history_version
from tests.history.runs_fixtures import eval_set, stored_systems_run

RAG, TUNED = "local:smollm2?kb=docs-v2", "local:smollm2?adapter=docs-v1"


def test_freshness_puts_each_variant_before_and_after_the_docs_changed(db):
    before, after = eval_set(db, "v1", questions=4), eval_set(db, "v2", questions=4)
    stored_systems_run(db, before, {RAG: {"keyword_presence": [1, 1, 1, 0]}, TUNED: {"keyword_presence": [1, 1, 0, 0]}})
    stored_systems_run(db, after, {RAG: {"keyword_presence": [1, 1, 1, 1]}, TUNED: {"keyword_presence": [0, 0, 0, 0]}})
    rows = {row["variant"]: row for row in freshness_rows(db, before, after, "keyword_presence")}
    assert rows[f"RAG · {RAG}"]["before"]["mean"] == 0.75 and rows[f"RAG · {RAG}"]["after"]["mean"] == 1.0
    assert rows[f"Fine-tuned · {TUNED}"]["after"]["mean"] == 0.0  # the adapter kept the old facts


def test_the_cache_key_changes_with_every_write_the_page_shows(db):
    name = eval_set(db)
    first = history_version(db)
    run = stored_systems_run(db, name, {"local": {"token_f1": [0.5] * 20}})
    second = history_version(db)
    set_baseline(db, run.id)
    assert len({first, second, history_version(db)}) == 3
    assert history_version(db) == history_version(db)  # stable without writes
