"""Sweep members written straight into the store, as their workers would leave them (for the table's tests
and the page's)."""

from __future__ import annotations

from typing import Any, Optional

from core.finetune.config import TrainingConfig
from core.finetune.sweep import member_name, member_system
from core.jobs import queue
from core.store.tables import EvalRun

METRIC = "token_f1"


def stored_member(db, sweep: dict[str, Any], learning_rate: float, loss: Optional[float] = None,
                  mean: Optional[float] = None) -> int:
    """A member's job: trained when it has a `loss` (else still running), evaluated when it has a `mean`."""
    config = TrainingConfig(dataset="ds", adapter_name=member_name(sweep["name"], learning_rate, 8),
                            learning_rate=learning_rate, lora_r=8, lora_alpha=16)
    job = queue.submit_job(db, "train", {"training": config.to_dict(), "sweep": sweep})
    result: dict[str, Any] = {} if loss is None else {"final_validation_loss": loss}
    if mean is not None:
        system = member_system(config)
        with db.session() as session:
            run = EvalRun(eval_set="set", systems=[system], metrics=[METRIC], summary={system: {"metrics": {
                METRIC: {"mean": mean, "low": mean - 0.1, "high": mean + 0.1, "n": 20}}}})
            session.add(run)
        result["eval_run_id"] = run.id
    queue.set_fields(db, job.id, status=queue.SUCCEEDED if loss is not None else queue.RUNNING, result=result)
    return job.id
