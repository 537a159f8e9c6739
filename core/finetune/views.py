"""What the Fine-tune page shows, as plain rows and lines: built here so the page only lays it out."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from core.finetune.formats import shown_messages
from core.finetune.monitor import Estimate
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
