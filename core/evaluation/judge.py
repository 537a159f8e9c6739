"""LLM-as-judge, pointwise: is the answer correct against the reference? A score from 1 to 5 with a reason.

Any system can judge (Claude with a key, an OpenAI-compatible server, the local model). The reply
must be a JSON object `{"score": 1-5, "reason": "..."}`; one that is not is asked again, and after
the last attempt the answer is recorded as a judge failure, with what went wrong. Scores are stored
as `judge_correctness` = (score - 1) / 4, so they sit on the same 0-1 axis as the other metrics.

A run may have each answer judged K times (`judge_repeatedly`): its grade is then the mean of the K
grades and its spread their highest less their lowest. One grade is greedy (temperature 0, the judge's
likeliest grade); repeated grades are sampled at REPEAT_TEMPERATURE, for at temperature 0 a local judge
gives one grade K times by construction and an API judge nearly so, and the spread would measure nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Optional, TypeVar

from pydantic import BaseModel, Field, ValidationError

from core.errors import LabError
from core.llm.base import Backend, GenerationOptions, Prompt
from core.llm.registry import BACKENDS
from core.llm.spec import parse_spec

MAX_ATTEMPTS = 3
JUDGE_OPTIONS = GenerationOptions(max_new_tokens=200, temperature=0.0)
MAX_REPEATS = 5
REPEAT_TEMPERATURE = 1.0  # Anthropic's and OpenAI's default: how the judge grades when nobody pins it
REPEAT_OPTIONS = replace(JUDGE_OPTIONS, temperature=REPEAT_TEMPERATURE)  # no seed: K draws, not one
SYSTEM = (
    "You grade answers to questions against a reference answer. Judge only whether the answer states "
    "the same facts as the reference; ignore style and length. Score 5: fully correct; 4: correct with a "
    "minor omission; 3: partly correct; 2: mostly wrong; 1: wrong or no answer. Reply with only a JSON "
    'object: {"score": <1-5>, "reason": "<one sentence>"}'
)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


Reply = TypeVar("Reply", bound=BaseModel)


class JudgeReply(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str = Field(min_length=1)


@dataclass(frozen=True)
class Verdict:
    value: Optional[float]  # (score - 1) / 4, or None when the judge gave no valid verdict
    reason: str


def is_weak_judge(spec: str) -> bool:
    """A small local model grades poorly: the UI says so beside its scores."""
    return BACKENDS[parse_spec(spec).backend].runs_locally


def judge_prompt(question: str, reference: str, answer: str) -> Prompt:
    return Prompt.ask(f"Question: {question}\n\nReference answer: {reference}\n\nAnswer to grade: {answer}\n\n"
                      "Reply with the JSON object only.", system=SYSTEM)


def parse_reply(text: str, reply_type: type[Reply] = JudgeReply) -> Reply:
    """The JSON object in a judge's reply, validated as `reply_type`; `ValueError` saying what is wrong."""
    found = _OBJECT.search(text or "")
    if not found:
        raise ValueError(f"no JSON object in the reply {text[:120]!r}")
    try:
        return reply_type.model_validate(json.loads(found.group(0)))
    except json.JSONDecodeError as exc:
        raise ValueError(f"the reply's JSON is not valid ({exc})") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"the reply is not a valid verdict ({problems})") from exc


def ask_judge(backend: Backend, prompt: Prompt, reply_type: type[Reply], attempts: int = MAX_ATTEMPTS,
              options: GenerationOptions = JUDGE_OPTIONS) -> Reply:
    """Ask until the reply is a valid verdict; `ValueError` with the last problem after `attempts`."""
    problem = ""
    for _ in range(attempts):
        try:
            return parse_reply(backend.generate(prompt, options).text, reply_type)
        except (ValueError, LabError) as exc:
            problem = str(exc)
    raise ValueError(f"judge failure after {attempts} attempts: {problem}")


def judge(backend: Backend, question: str, reference: str, answer: str,
          attempts: int = MAX_ATTEMPTS, options: GenerationOptions = JUDGE_OPTIONS) -> Verdict:
    """Grade one answer; a judge that gives no valid verdict gives a verdict without value."""
    try:
        reply = ask_judge(backend, judge_prompt(question, reference, answer), JudgeReply, attempts, options)
    except ValueError as exc:
        return Verdict(None, str(exc))
    return Verdict((reply.score - 1) / 4, f"{reply.score}/5: {reply.reason}")


@dataclass(frozen=True)
class Judgement:
    """The verdicts of one answer judged once or more: its grade is their mean, its spread how far they lie apart."""

    verdicts: tuple[Verdict, ...]

    @property
    def grades(self) -> list[float]:
        return [verdict.value for verdict in self.verdicts if verdict.value is not None]

    @property
    def value(self) -> Optional[float]:
        """The mean grade; None when the judge gave no valid verdict."""
        return sum(self.grades) / len(self.grades) if self.grades else None

    @property
    def reason(self) -> str:
        return " | ".join(verdict.reason for verdict in self.verdicts)

    @property
    def spread(self) -> Optional[float]:
        """The highest grade less the lowest; None with fewer than two valid grades."""
        return max(self.grades) - min(self.grades) if len(self.grades) >= 2 else None

    @property
    def spread_reason(self) -> str:
        """"grades 4, 2, 4 of 5", with how many repeats gave no valid verdict."""
        scores = ", ".join(f"{round(grade * 4) + 1}" for grade in self.grades) or "none"
        failures = len(self.verdicts) - len(self.grades)
        return f"grades {scores} of 5" + (f" ({failures} judge failure(s))" if failures else "")


def judge_repeatedly(backend: Backend, question: str, reference: str, answer: str, repeats: int = 1) -> Judgement:
    """Grade one answer `repeats` times: once greedily, or `repeats` sampled grades (see the module's docstring)."""
    options = JUDGE_OPTIONS if repeats == 1 else REPEAT_OPTIONS
    return Judgement(tuple(judge(backend, question, reference, answer, options=options) for _ in range(repeats)))
