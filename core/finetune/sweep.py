"""A sweep: one dataset and base model trained over a grid of learning rates x LoRA ranks, the best picked.

The seed's advice is to try learning rates from 1e-4 to 3e-4 and ranks 8 to 16 (alpha = 2 x rank) and keep
what validates best. A sweep submits one training job per grid point at once; they queue, and the
scheduler runs RAGTUNE_MAX_JOBS of them at a time. Each adapter is named SWEEP-lrX-rY. With an eval set,
each member's training job queues an eval run of its adapter as its last step (`evaluate_member`), so no
page has to stay open to carry the sweep on.

The group is a field of its members' job configs (`config["sweep"]`: its name and eval request), not a
table of its own: a sweep is nothing but its jobs, so there is no second row that could disagree with them
(a member cancelled, resumed or removed), and the eval request has to travel to the worker in the job's
config anyway. Listing reads the training jobs that carry the field (a JSON path both SQLite and PostgreSQL
index); a taken sweep name is refused at submit, and two sweeps submitted at once under one name are kept
apart by their members' adapter names, each refused while another job trains it.

What grades the adapters is the eval layer's (`core.evaluation.sweep_eval`: core.evaluation imports
core.finetune, never the reverse). The sweep reaches it by its path, as `core.jobs.kinds` reaches the job
kinds, only to check an eval request and to queue a member's eval run; the table reads the runs' rows.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, Optional, Sequence

from sqlmodel import col, select

from core.access import Actor, Role, require
from core.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from core.finetune.config import TrainingConfig
from core.finetune.job import TrainingJob, submit_training
from core.jobs import queue
from core.llm.spec import parse_spec
from core.rag.config import validate_name
from core.store import Database
from core.store.tables import EvalRun, Job

SEED_LEARNING_RATES = (1e-4, 3e-4)  # the seed's range, both ends
SEED_RANKS = (8, 16)
MAX_MEMBERS = 16  # a small sweep: a bigger grid is more likely a typo than a plan, and queues hours of training
VALIDATION_LOSS = "validation loss"
EVALUATION = "core.evaluation.sweep_eval"


@dataclass(frozen=True)
class SweepPlan:
    name: str
    template: TrainingConfig  # every setting but the grid's (learning rate, rank, alpha) and the adapter name
    learning_rates: Sequence[float] = SEED_LEARNING_RATES
    ranks: Sequence[int] = SEED_RANKS
    eval_set: Optional[str] = None  # each trained adapter is evaluated on it, graded by `metric`
    metric: Optional[str] = None  # default: the first headline metric the set's items can be graded by

    def members(self) -> list[TrainingConfig]:
        """One training config per grid point, learning rate first; alpha is twice the rank, as the seed says."""
        if not self.learning_rates or not self.ranks:
            raise InvalidInputError("A sweep needs at least one learning rate and one rank.")
        configs = [replace(self.template, adapter_name=member_name(self.name, rate, rank), learning_rate=rate,
                           lora_r=rank, lora_alpha=2 * rank)
                   for rate in dict.fromkeys(self.learning_rates) for rank in dict.fromkeys(self.ranks)]
        if len(configs) > MAX_MEMBERS:
            raise InvalidInputError(f"A sweep of {len(configs)} grid points is more than the {MAX_MEMBERS} a sweep "
                                    "may queue: give fewer learning rates or ranks.")
        names = [config.adapter_name for config in configs]
        if len(set(names)) < len(names):
            raise InvalidInputError(f"Two grid points would share an adapter name ({', '.join(names)}): "
                                    "give learning rates that differ in their first 6 digits.")
        return configs


def member_name(sweep: str, learning_rate: float, rank: int) -> str:
    """"house-lr3e-4-r16": the adapter of the grid point (3e-4, 16)."""
    return f"{sweep}-lr{rate_text(learning_rate)}-r{rank}"


def rate_text(learning_rate: float) -> str:
    """"3e-4", "2.5e-5": a learning rate as the seed writes it."""
    mantissa, exponent = f"{learning_rate:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def parse_grid(text: str, kind: type, what: str) -> list:
    """"1e-4, 3e-4" -> [0.0001, 0.0003]: the values of one axis of the grid, typed in a form."""
    try:
        return [kind(word) for word in text.replace(",", " ").split()]
    except ValueError:
        raise InvalidInputError(f"{what} must be numbers separated by commas, e.g. "
                                f"{'1e-4, 3e-4' if kind is float else '8, 16'}; not {text!r}.") from None


def submit_sweep(db: Database, plan: SweepPlan, actor: Actor) -> list[Job]:
    """Check every member, then queue them all (admins only, as training); returns their jobs in grid order."""
    require(actor, Role.ADMIN, "start a sweep")
    name = validate_name(plan.name, "sweep", "house-style-sweep")
    if sweep_jobs(db, name):
        raise AlreadyExistsError(f"A sweep named {name!r} exists: pick another name "
                                 "(`python -m core train sweeps` lists them).")
    record: dict[str, Any] = {"name": name}
    if plan.eval_set:
        record |= _evaluation().eval_request(db, plan.eval_set, plan.metric)
    members = replace(plan, name=name).members()
    for config in members:  # all are checked before any is queued: a bad grid queues nothing
        TrainingJob().validate({"training": config.to_dict()})
    return [submit_training(db, config, actor, sweep=record) for config in members]


def member_system(training: TrainingConfig) -> str:
    """The system spec that asks a member's base model with its adapter."""
    return parse_spec(f"local:{training.base_model}?adapter={training.adapter_name}").text


def evaluate_member(db: Database, job: Job, actor: Actor) -> dict[str, Any]:
    """The last step of a sweep member's training job, once its adapter is registered: queue the eval run its
    sweep asked for (nothing without one). Returns what goes into the job's result."""
    if not (job.config.get("sweep") or {}).get("eval_set"):
        return {}
    return _evaluation().evaluate_member(db, job.config, actor)


def _evaluation() -> ModuleType:
    return importlib.import_module(EVALUATION)


def sweep_jobs(db: Database, name: Optional[str] = None) -> list[Job]:
    """The training jobs of the sweep `name` (of every sweep without one), oldest first."""
    sweep_name = Job.config[("sweep", "name")].as_string()
    query = select(Job).where(Job.kind == TrainingJob.name, sweep_name.is_not(None)).order_by(col(Job.id))
    if name is not None:
        query = query.where(sweep_name == name)
    with db.session(immediate=False) as session:
        return list(session.exec(query))


@dataclass(frozen=True)
class Member:
    job_id: int
    adapter: str
    learning_rate: float
    rank: int
    status: str  # the training job's
    validation_loss: Optional[float]  # the final one, once trained
    eval_run_id: Optional[int] = None
    eval_status: Optional[str] = None  # the eval job's, or "not queued: why"
    estimate: Optional[dict[str, Any]] = None  # the metric's mean, low, high, n once the eval run finished
    best: bool = False


@dataclass(frozen=True)
class SweepTable:
    name: str
    dataset: str
    base_model: str
    eval_set: Optional[str]
    metric: Optional[str]
    members: list[Member] = field(default_factory=list)
    best_by: Optional[str] = None  # the metric's name, VALIDATION_LOSS, or None while no member can be compared

    @property
    def best(self) -> Optional[Member]:
        return next((member for member in self.members if member.best), None)


def sweep_tables(db: Database) -> list[SweepTable]:
    """Every sweep, newest first."""
    by_name: dict[str, list[Job]] = {}
    for job in sweep_jobs(db):
        by_name.setdefault(job.config["sweep"]["name"], []).append(job)
    return [_table(db, jobs) for jobs in reversed(by_name.values())]


def sweep_table(db: Database, name: str) -> SweepTable:
    """One row per member; the best is marked by the eval metric once every member has it, else by the final
    validation loss among the members trained so far (the mark may move while members still train)."""
    jobs = sweep_jobs(db, name)
    if not jobs:
        raise NotFoundError(f"No sweep named {name!r}: `python -m core train sweeps` lists them.")
    return _table(db, jobs)


def _table(db: Database, jobs: list[Job]) -> SweepTable:
    sweep, training = jobs[0].config["sweep"], TrainingConfig.from_dict(jobs[0].config["training"])
    members = [_member(db, job, sweep.get("metric")) for job in jobs]
    best_by, best = _best(members, sweep)
    return SweepTable(sweep["name"], training.dataset, training.base_model, sweep.get("eval_set"),
                      sweep.get("metric"), [replace(member, best=member is best) for member in members], best_by)


def _member(db: Database, job: Job, metric: Optional[str]) -> Member:
    training = TrainingConfig.from_dict(job.config["training"])
    member = Member(job.id, training.adapter_name, training.learning_rate, training.lora_r, job.status,
                    job.result.get("final_validation_loss") if job.status == queue.SUCCEEDED else None)
    if "eval_error" in job.result:
        return replace(member, eval_status=f"not queued: {job.result['eval_error']}")
    if "eval_run_id" not in job.result:
        return member
    with db.session(immediate=False) as session:
        run = session.get(EvalRun, job.result["eval_run_id"])
        eval_job = session.get(Job, run.job_id) if run and run.job_id else None
    if run is None:
        return replace(member, eval_status="run removed")
    estimate = run.summary.get(run.systems[0], {}).get("metrics", {}).get(metric)
    return replace(member, eval_run_id=run.id, eval_status=eval_job.status if eval_job else None,
                   estimate=estimate if estimate and estimate.get("mean") is not None else None)


def _best(members: list[Member], sweep: dict[str, Any]) -> tuple[Optional[str], Optional[Member]]:
    metric = sweep.get("metric")
    if metric and all(member.estimate for member in members):
        sign = 1 if sweep["higher_is_better"] else -1
        return metric, max(members, key=lambda member: sign * member.estimate["mean"])
    trained = [member for member in members if member.validation_loss is not None]
    if not trained:
        return None, None
    return VALIDATION_LOSS, min(trained, key=lambda member: member.validation_loss)
