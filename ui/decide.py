"""Widgets of the Decide page: a question with the room's answers beneath it,
the verdict panel and the trade-off tables. Layout only; core decides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

import streamlit as st

from core.checklist import instruments as ins
from core.checklist.room import QuestionPoll
from core.checklist.tradeoffs import Table
from core.checklist.verdict import Verdict
from core.checklist.views import (YES_NO_LABELS, arrow_hint, experiment_text, room_summary, split_questions,
                                  tradeoff_rows)
from core.errors import LabError
from core.reports import factor_tally_figure

ERROR_KEY = "decide.error"

SaveAnswer = Callable[[str, Optional[str]], None]


def answer_widget(scope: str, key: str, label: str, options: Mapping[str, str], mine: Optional[str],
                  save: Optional[SaveAnswer], help_text: str = "") -> None:
    """A radio saving on change; disabled (read-only) when `save` is None.

    `scope` (session and participant) is part of the widget key, so switching
    either shows that person's saved answers instead of stale widget state.
    """
    widget_key = f"decide.answer.{scope}.{key}"
    st.radio(
        label, list(options), format_func=options.get, horizontal=True, help=help_text or None,
        index=list(options).index(mine) if mine in options else None, key=widget_key,
        disabled=save is None, on_change=_save_from_widget, args=(save, key, widget_key),
    )


def _save_from_widget(save: Optional[SaveAnswer], key: str, widget_key: str) -> None:
    try:
        save(key, st.session_state[widget_key])
    except LabError as exc:
        st.session_state[ERROR_KEY] = str(exc)


@dataclass(frozen=True)
class Answering:
    """One participant answering in one session, beside the room's polls."""

    scope: str  # session and participant: part of every widget key
    mine: Mapping[str, str]
    polls: Mapping[str, QuestionPoll]
    save: Optional[SaveAnswer]  # None: read-only, no name entered yet

    def question(self, key: str, label: str, options: Mapping[str, str],
                 room_labels: Mapping[str, str], help_text: str = "") -> None:
        answer_widget(self.scope, key, label, options, self.mine.get(key), self.save, help_text)
        st.caption(room_summary(self.polls[key], room_labels))

    def numbered_yes_no(self, prefix: str, questions: Sequence[ins.Question]) -> None:
        for number, question in enumerate(questions, 1):
            self.question(f"{prefix}.{question.key}", f"{number}. {question.text}", YES_NO_LABELS,
                          YES_NO_LABELS, help_text=arrow_hint(question))


def splits_list(polls: Mapping[str, QuestionPoll]) -> None:
    """Where the room disagrees: the questions worth talking through first."""
    split = split_questions(polls)
    if split:
        st.markdown("**Where the room splits**\n" + "\n".join(f"- {text}" for text in split))


def verdict_panel(verdict: Verdict, participants: int) -> None:
    label = verdict.recommendation.label
    if participants == 0:
        st.info("No answers yet: the verdict appears as the room answers. "
                "Until then the seeds' default holds: " + label + ".")
    else:
        st.success(f"**Verdict: {label}**  \n{participants} participant(s)")
    st.markdown("\n".join(f"- {reason}" for reason in verdict.reasons))
    st.markdown("**Experiment that would confirm it**  \n" + experiment_text(verdict.experiment))
    if verdict.factors.unanswered < len(ins.SIX_FACTORS):
        st.plotly_chart(factor_tally_figure(verdict.factors), width="stretch")


def tradeoff_table(table: Table) -> None:
    with st.expander(table.title):
        st.dataframe(tradeoff_rows(table), hide_index=True, width="stretch")
        st.caption(f"Source: {table.source}")


def show_pending_error() -> None:
    message = st.session_state.pop(ERROR_KEY, None)
    if message:
        st.error(message)
