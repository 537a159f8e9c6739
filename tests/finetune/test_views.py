"""The Fine-tune page's rows and lines, built without Streamlit."""

from datetime import datetime

from core.finetune.monitor import Estimate
from core.finetune.views import (adapter_rows, estimate_line, example_rows, skipped_line, training_job_label,
                                 training_job_rows)
from core.store.tables import Adapter, Job


def test_skipped_commits_read_by_reason():
    assert skipped_line({"merge commit": 2, "empty diff": 1}) == "2 (merge commit), 1 (empty diff)"
    assert skipped_line({}) == "none"


def test_the_preview_has_a_column_per_role_and_stops_at_twenty():
    examples = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
                for i in range(25)]
    rows = example_rows(examples)
    assert len(rows) == 20 and rows[0] == {"#": 1, "user": "q0", "assistant": "a0"}


def test_a_training_job_and_an_adapter_as_rows():
    job = Job(id=7, kind="train", status="running", title="house-style on smollm2", progress=0.426,
              result={"adapter": "house"}, created_at=datetime(2026, 12, 6, 9, 5))
    assert training_job_label(job) == "7 · running · house-style on smollm2"
    assert training_job_rows([job]) == [{"Job": 7, "Status": "running", "What": "house-style on smollm2",
                                         "Progress": "43%", "Adapter": "house", "Created (UTC)": "2026-12-06 09:05"}]
    adapter = Adapter(name="house", base_model="smollm2", dataset="house-style", path="/m/house",
                      final_validation_loss=1.25, size_bytes=3_456_789, train_seconds=61.6, cost_usd=0.017111)
    (row,) = adapter_rows([adapter])
    assert (row["Size (MB)"], row["Train time (s)"], row["Cost ($)"], row["Merged"]) == (3.5, 62, 0.0171, "")


def test_the_estimate_reads_as_steps_and_minutes():
    assert estimate_line(Estimate(seconds=150, steps=40, basis="assumed")) == "about 40 steps, roughly 2.5 min"
