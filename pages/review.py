"""Review: my queue of answers to label, blind to the systems; a run's reviewers, their agreement and
the disagreements to settle; admins open runs for review."""

from __future__ import annotations

import streamlit as st

from core.access import Role
from core.evaluation.labels import LABELS, save_label
from core.evaluation.review import (assign_answer, my_queues, next_to_label, open_review, queued_answers,
                                    review_status, reviewer_candidates, settle)
from core.evaluation.runs import list_runs
from core.evaluation.views import (alpha_line, answer_choices, disagreement_line, human_rows, queue_choice_label,
                                   queued_answer_label, run_choice_label)
from core.settings import get_settings
from ui.auth import acting_user, missing_role, own_name_field
from ui.common import database, ensure_router, flash, reported_errors, show_flash

ensure_router()
st.title("Review")
st.caption("Label the answers in your queue: you see the question, its reference and the answer, never which "
           "system gave it. Where reviewers disagree, an admin settles the label that metrics use.")
show_flash()


def my_queue_section(db) -> None:
    st.subheader("My queue")
    reviewer = own_name_field("Your name (your queue is kept under it)", "rv_reviewer")
    queues = my_queues(db, reviewer) if reviewer else []
    if not queues:
        st.caption("Nothing in your queue." if reviewer else "Enter your name to see your queue.")
        return
    by_run = {queue.run_id: queue for queue in queues}
    run_id = st.selectbox("Run", list(by_run), key="rv_queue_run", format_func=lambda i: queue_choice_label(by_run[i]))
    answers = queued_answers(db, run_id, reviewer)
    done = sum(answer.label is not None for answer in answers)
    st.progress(done / len(answers), text=f"{done} of {len(answers)} labelled")
    position_key = f"rv_position_{run_id}"
    advanced_to = st.session_state.pop(f"{position_key}.next", None)  # set by "Save and next"
    if advanced_to is not None or position_key not in st.session_state:
        st.session_state[position_key] = advanced_to or next((a.position for a in answers if a.label is None), 1)
    by_position = {answer.position: answer for answer in answers}
    position = st.selectbox("Answer", list(by_position), key=position_key,
                            format_func=lambda p: queued_answer_label(by_position[p]))
    label_card(db, by_position[position], reviewer, answers, position_key)


def label_card(db, answer, reviewer: str, answers, position_key: str) -> None:
    with st.container(border=True):
        st.markdown(f"**Question:** {answer.question}")
        st.markdown(f"**Reference:** {answer.reference or '_(none)_'}")
        st.markdown("**Answer:**")
        st.text(answer.answer or "(empty answer)")
    grade = st.radio("Grade", LABELS, horizontal=True, key=f"rv_grade_{answer.result_id}",
                     index=LABELS.index(answer.label) if answer.label else None)
    comment = st.text_input("Comment (optional)", value=answer.comment, key=f"rv_comment_{answer.result_id}")
    if st.button("Save and next", type="primary", key="rv_save", disabled=grade is None):
        with reported_errors():
            save_label(db, answer.result_id, reviewer, grade, comment, actor=acting_user())
            st.session_state[f"{position_key}.next"] = next_to_label(answers, answer.position)
            st.rerun()



def open_section(db, runs) -> None:
    with st.expander("Open a run for review (admins)"):
        blocked = missing_role(Role.ADMIN, "Opening a run for review")
        if blocked:
            st.caption(blocked)
            return
        run = st.selectbox("Run", list(runs), key="rv_open_run", format_func=lambda i: run_choice_label(*runs[i]))
        signing_in = get_settings().auth != "off"
        reviewers = st.multiselect("Reviewers", reviewer_candidates(db) if signing_in else [], key="rv_open_reviewers",
                                   accept_new_options=not signing_in,
                                   help="Users who may label" if signing_in else "Type each reviewer's name")
        per_answer = st.number_input("Reviewers per answer", 1, max(1, len(reviewers)), 1, key="rv_open_per_answer",
                                     help="Two or more give each answer several labels, so agreement can be measured")
        if st.button("Open for review", key="rv_open", disabled=not reviewers):
            with reported_errors():
                made = open_review(db, run, reviewers, int(per_answer), actor=acting_user())
                flash(f"Run {run}: {made} answers queued for {', '.join(reviewers)}.")
        st.markdown("**Or one answer by hand**")
        left, right = st.columns(2)
        choices = dict(answer_choices(db, runs[run][0]))
        answer = left.selectbox("Answer", list(choices), key="rv_hand_answer", format_func=choices.get)
        reviewer = right.text_input("Reviewer", key="rv_hand_reviewer")
        if st.button("Assign", key="rv_hand_assign", disabled=answer is None or not reviewer.strip()):
            with reported_errors():
                assign_answer(db, answer, reviewer, actor=acting_user())
                flash(f"Answer {choices[answer]} is in {reviewer.strip()}'s queue.")


def status_section(db, runs) -> None:
    st.subheader("A run's review")
    run = st.selectbox("Run", list(runs), key="rv_status_run", format_func=lambda i: run_choice_label(*runs[i]))
    status = review_status(db, run)
    if not status.progress:
        st.caption("Nobody has labelled or been given this run's answers yet.")
        return
    st.dataframe(status.progress, hide_index=True)
    st.caption(alpha_line(status))
    if status.human:
        st.markdown("**Human verdicts** (the reviewers' common label, or the settled one):")
        st.dataframe(human_rows(status), hide_index=True)
    disagreements_section(db, status)


def disagreements_section(db, status) -> None:
    if not status.disagreements:
        return
    st.markdown(f"**Disagreements** ({sum(d.settled is None for d in status.disagreements)} to settle):")
    blocked = missing_role(Role.ADMIN, "Settling a disagreement")
    for disagreement in status.disagreements:
        left, right = st.columns([3, 2])
        left.markdown(disagreement_line(disagreement))
        label = right.selectbox("Settle as", LABELS, key=f"rv_settle_{disagreement.result_id}", disabled=bool(blocked),
                                help=blocked,
                                index=LABELS.index(disagreement.settled) if disagreement.settled else None,
                                label_visibility="collapsed", placeholder="Settle as…")
        if label and label != disagreement.settled and not blocked:
            with reported_errors():
                settle(db, disagreement.result_id, label, actor=acting_user())
                st.rerun()


db = database()
if db is not None:
    with reported_errors():
        my_queue_section(db)
        runs = {run.id: (run, job) for run, job in list_runs(db) if run.summary}
        if runs:
            open_section(db, runs)
            status_section(db, runs)
