"""The eval side of a fine-tuning sweep (`core.finetune.sweep`): which metric grades its adapters, and the
eval run each member queues once its adapter is trained.

It lives a layer above fine-tuning because it asks `core.evaluation`; the sweep reaches it by its path.
"""

from __future__ import annotations

from typing import Any, Optional

from core.access import Actor
from core.errors import InvalidInputError, LabError
from core.evaluation.catalog import CATALOG, OFFLINE_METRICS, item_needs
from core.evaluation.runs import submit_eval
from core.evaluation.sets import eval_items
from core.finetune.config import TrainingConfig
from core.finetune.sweep import member_system
from core.store import Database


def usable_metrics(db: Database, eval_set: str) -> list[str]:
    """The metrics that grade an adapter's answers to the set without a judge (an adapter retrieves nothing),
    headline metrics first."""
    present = [item_needs(item) for item in eval_items(db, eval_set)]
    usable = [name for name in OFFLINE_METRICS
              if not CATALOG[name].rag_only and any(CATALOG[name].applies(needs) for needs in present)]
    return sorted(usable, key=lambda name: not CATALOG[name].headline)


def eval_request(db: Database, eval_set: str, metric: Optional[str]) -> dict[str, Any]:
    """What a sweep keeps of its eval: the set, the metric and its direction. `metric` must be one of the set's
    `usable_metrics`; without one, the first of them."""
    usable = usable_metrics(db, eval_set)
    if not usable:
        raise InvalidInputError(f"No metric grades eval set {eval_set!r} without a judge: give its questions "
                                "reference answers or keywords.")
    if metric is None:
        metric = usable[0]
    elif metric not in usable:
        raise InvalidInputError(f"{metric!r} cannot grade an adapter's answers to {eval_set!r} without a judge: "
                                f"choose from {', '.join(usable)}.")
    return {"eval_set": eval_set, "metric": metric, "higher_is_better": CATALOG[metric].higher_is_better}


def evaluate_member(db: Database, config: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Queue the eval run of a member's adapter on its sweep's set: the run's id, or why it could not be queued
    (the eval set removed since; the adapter is trained all the same)."""
    sweep = config["sweep"]
    system = member_system(TrainingConfig.from_dict(config["training"]))
    try:
        run = submit_eval(db, sweep["eval_set"], [system], [sweep["metric"]], actor=actor)
    except LabError as exc:
        return {"eval_error": f"the eval run of {system} could not be queued: {exc}"}
    return {"eval_run_id": run.id}
