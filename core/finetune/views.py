"""What the Fine-tune page shows, as plain rows and lines: built here so the page only lays it out."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from core.finetune.formats import shown_messages
from core.finetune.monitor import Estimate
from core.finetune.sweep import VALIDATION_LOSS, SweepTable, rate_text
from core.store.tables import Adapter, Job

PREVIEW_EXAMPLES = 20


def skipped_line(skipped: Mapping[str, int]) -> str:
    """"2 (merge commit), 1 (empty diff)": the commits a git-history dataset left out, by reason."""
    return ", ".join(f"{count} ({reason})" for reason, count in skipped.items()) or "none"


def example_rows(examples: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The first examples, one column per role (a preference pair's answers: chosen, rejected)."""
    return [{"#": number, **dict(shown_messages(example))}
            for number, example in enumerate(examples[:PREVIEW_EXAMPLES], start=1)]


def estimate_line(planned: Estimate) -> str:
    return f"about {planned.steps} steps, roughly {planned.seconds / 60:.1f} min"


def training_job_label(job: Job) -> str:
    return f"{job.id} · {job.status} · {job.title}"


def training_job_rows(jobs: Sequence[Job]) -> list[dict[str, Any]]:
    return [{"Job": job.id, "Status": job.status, "What": job.title, "Progress": f"{job.progress:.0%}",
             "Adapter": job.result.get("adapter", ""), "Created (UTC)": f"{job.created_at:%Y-%m-%d %H:%M}"}
            for job in jobs]


def adapter_rows(adapters: Sequence[Adapter]) -> list[dict[str, Any]]:
    return [{"Adapter": a.name, "Base": a.base_model, "Dataset": a.dataset,
             "Validation loss": a.final_validation_loss, "Size (MB)": round(a.size_bytes / 1e6, 1),
             "Train time (s)": round(a.train_seconds), "Cost ($)": round(a.cost_usd, 4),
             "Merged": a.merged_path or ""} for a in adapters]


def sweep_rows(table: SweepTable) -> list[dict[str, Any]]:
    """One row per member: its grid point, how far it got, and the numbers the best is picked by."""
    return [{"Best": "★" if member.best else "", "Learning rate": rate_text(member.learning_rate),
             "Rank": member.rank, "Adapter": member.adapter, "Job": member.job_id, "Training": member.status,
             "Validation loss": member.validation_loss,
             **({table.metric: estimate_text(member.estimate), "Eval run": member.eval_status or ""}
                if table.eval_set else {})}
            for member in table.members]


def best_line(table: SweepTable) -> str:
    """Which member is best and by what; or why none is yet."""
    if table.best is None:
        return "No member has finished training yet: the best is picked once one has a validation loss."
    unranked = sum(member.validation_loss is None for member in table.members)
    by = (f"the best mean {table.best_by} ({table.best.estimate['mean']:.2f})" if table.best_by != VALIDATION_LOSS
          else f"the lowest final validation loss ({table.best.validation_loss:.4f})")
    waiting = (f"; {unranked} member(s) not trained yet" if unranked else "")
    pending_eval = (" (by validation loss until every member has its eval result)"
                    if table.metric and table.best_by == VALIDATION_LOSS else "")
    return f"Best: {table.best.adapter}, by {by}{pending_eval}{waiting}."


def sweep_lines(table: SweepTable) -> list[str]:
    """The table as lines for a terminal: a header, one tab-separated line per member, the best line."""
    evaluated = f", evaluated on {table.eval_set} by {table.metric}" if table.eval_set else ""
    lines = [f"sweep {table.name}: {table.dataset} on {table.base_model}{evaluated}"]
    for member in table.members:
        loss = "-" if member.validation_loss is None else f"{member.validation_loss:.4f}"
        evaluation = (f"\t{table.metric}={estimate_text(member.estimate) or '-'}\teval {member.eval_status or '-'}"
                      if table.eval_set else "")
        lines.append(f"{'*' if member.best else ' '} {member.adapter}\tlr={rate_text(member.learning_rate)}\t"
                     f"r={member.rank}\tjob {member.job_id} {member.status}\tval_loss={loss}{evaluation}")
    lines.append(best_line(table))
    return lines


def estimate_text(estimate: Optional[Mapping[str, Any]]) -> str:
    """"0.62 [0.48, 0.75] (n=20)", or "" before the eval run has finished."""
    if not estimate:
        return ""
    return f"{estimate['mean']:.2f} [{estimate['low']:.2f}, {estimate['high']:.2f}] (n={estimate['n']})"
