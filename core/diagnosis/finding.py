"""The one shape every detector returns: what was looked for, whether it was found, the figures that say
so (each with its interval), where to look (runs and questions), the seed's fix and what the lab can do
about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Optional

from core.evaluation.stats import Estimate


class Status(str, Enum):
    FOUND = "found"
    NOT_FOUND = "not found"
    CANNOT_TELL = "cannot tell"


@dataclass(frozen=True)
class Mode:
    """One failure mode as the seed's table gives it."""

    key: str  # e.g. "retrieval_recall"
    title: str  # the symptom, short
    approach: str  # "RAG", "Fine-tuning" or "Both"
    cause: str  # the seed's root cause
    fix: str  # the seed's fix


@dataclass(frozen=True)
class Figure:
    """One number behind a finding; `estimate` carries its 95% interval where it has one."""

    name: str  # e.g. "file recall@5", "drop in contains_reference"
    value: float
    low: Optional[float] = None
    high: Optional[float] = None
    n: Optional[int] = None  # how many questions (or answers) it rests on
    unit: str = ""  # "" for a share or score, "ms", "examples", ...

    @classmethod
    def of(cls, name: str, estimate: Estimate, unit: str = "") -> "Figure":
        return cls(name, estimate.mean, estimate.low, estimate.high, estimate.n, unit)

    def text(self) -> str:
        value = _number(self.value, self.unit)
        interval = (f" [{_number(self.low, self.unit)}, {_number(self.high, self.unit)}]"
                    if self.low is not None and self.high is not None else "")
        return f"{self.name}: {value}{interval}" + (f" (n={self.n})" if self.n is not None else "")


@dataclass(frozen=True)
class Question:
    """A question that shows the mode: which run, which item, which system, and what it said."""

    run_id: int
    item_id: str
    system: str
    note: str = ""  # e.g. "the context held the reference; the answer did not"


@dataclass(frozen=True)
class Action:
    """What the lab can do about a finding, in one click on the Diagnose page or one CLI command."""

    kind: str  # a key of core.diagnosis.actions.ACTIONS
    label: str  # the button's text
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    mode: Mode
    status: Status
    summary: str  # one or two sentences with the numbers, or what run would tell
    subject: str = ""  # what it is about: a system spec, a knowledge base, an adapter; "" for the whole scope
    figures: tuple[Figure, ...] = ()
    runs: tuple[int, ...] = ()
    questions: tuple[Question, ...] = ()
    action: Optional[Action] = None
    advice: str = ""  # what to do where the evidence rules the seed's fix out (e.g. generation, not the index, is slow)

    @property
    def fix(self) -> str:
        return self.advice or self.mode.fix

    @classmethod
    def cannot_tell(cls, mode: Mode, what_would_tell: str, subject: str = "", runs: tuple[int, ...] = ()) -> "Finding":
        """Nothing in scope can show the mode either way; `what_would_tell` names the run that would."""
        return cls(mode, Status.CANNOT_TELL, f"Cannot tell: {what_would_tell}", subject, runs=runs)

    @property
    def found(self) -> bool:
        return self.status is Status.FOUND

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


def _number(value: Optional[float], unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit:
        return f"{value:,.0f} {unit}" if float(value).is_integer() else f"{value:,.4g} {unit}"
    return f"{value:.3f}"
