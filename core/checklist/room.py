"""How a room answered: per question, who said what, and the consensus.

The consensus of a question is its most common answer. A tie is a split room,
which is a doubt ("unsure", or "neutral" for a factor), not a coin toss.
Participants who did not answer a question are left out of its poll.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping, Optional

from core.checklist.instruments import NEUTRAL, QUESTION_ANSWERS, UNSURE

AnswersByParticipant = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class QuestionPoll:
    key: str
    by_answer: dict[str, tuple[str, ...]]  # answer -> participants who gave it
    consensus: Optional[str]

    @property
    def disagreement(self) -> bool:
        return len(self.by_answer) > 1


def poll(answers: AnswersByParticipant, key: str) -> QuestionPoll:
    by_answer: dict[str, list[str]] = defaultdict(list)
    for participant in sorted(answers):
        answer = answers[participant].get(key)
        if answer is not None:
            by_answer[answer].append(participant)
    return QuestionPoll(key, {a: tuple(p) for a, p in by_answer.items()}, _consensus(key, by_answer))


def _consensus(key: str, by_answer: Mapping[str, list[str]]) -> Optional[str]:
    if not by_answer:
        return None
    top = max(len(names) for names in by_answer.values())
    leaders = [answer for answer, names in by_answer.items() if len(names) == top]
    if len(leaders) == 1:
        return leaders[0]
    return NEUTRAL if key.startswith("factor.") else UNSURE


def room_polls(answers: AnswersByParticipant) -> dict[str, QuestionPoll]:
    return {key: poll(answers, key) for key in QUESTION_ANSWERS}


def consensus_answers(answers: AnswersByParticipant) -> dict[str, str]:
    """The room's answers as one participant's would be: question key -> consensus."""
    polls = room_polls(answers)
    return {key: p.consensus for key, p in polls.items() if p.consensus is not None}
