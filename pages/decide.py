"""Decide: the decision workshop. A facilitator opens a named session, each
participant answers in their own browser, the room's verdict updates live."""

from __future__ import annotations

from functools import partial

import streamlit as st

from core.access import Role
from core.checklist import instruments as ins
from core.checklist.report import render_markdown
from core.checklist.room import consensus_answers, room_polls
from core.checklist.sessions import (
    answers_by_participant,
    create_session,
    delete_session,
    get_session,
    list_sessions,
    record_answer,
    remove_participant,
    update_session,
)
from core.checklist.tradeoffs import FAILURE_MODES, MECHANISMS, OPERATIONS, WHAT_EACH_FIXES
from core.checklist.verdict import decide
from core.checklist.views import FACTOR_LABELS, factor_options, requested_session
from ui.auth import acting_user, missing_role, own_name_field
from ui.common import database, ensure_router, reported_errors
from ui.decide import Answering, show_pending_error, splits_list, tradeoff_table, verdict_panel

ensure_router()
st.title("Decide: RAG, fine-tuning, or both?")
db = database()
if db is None:
    st.stop()


def open_session(session_id: int) -> None:
    st.query_params["session"] = str(session_id)


def new_session_form() -> None:
    with st.popover("New session", icon=":material/add:"):
        with st.form("decide.new_session", clear_on_submit=True):
            name = st.text_input("Session name", placeholder="Support bot, Q3")
            context = st.text_area("What are we deciding?", placeholder="Optional context for the room")
            if st.form_submit_button("Create session", type="primary"):
                with reported_errors():
                    open_session(create_session(db, name, context, actor=acting_user()).id)
                    st.rerun()


def pick_session():
    sessions = {s.id: s for s in list_sessions(db)}
    ids = list(sessions)
    link = st.query_params.get("session")
    requested = requested_session(link, ids)
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    with right:
        new_session_form()
    if link is not None and requested is None:
        st.error(f"Decision session #{link} does not exist: it may have been deleted. "
                 "Pick another session or create a new one.")
    with left:
        chosen = st.selectbox(
            "Decision session", ids, format_func=lambda i: sessions[i].name, placeholder="Pick a session",
            index=ids.index(requested) if requested is not None else None,
        )
    if chosen is None:
        st.info("Create a session for your workshop, or pick one to join. Share the page's link "
                "with the room: it opens the same session.")
        st.stop()
    if str(chosen) != link:
        open_session(chosen)
    return get_session(db, chosen)


def save(session_id: int, participant: str, key: str, answer) -> None:
    record_answer(db, session_id, participant, key, answer, acting_user())


with reported_errors():
    record = pick_session()
    show_pending_error()
    if record.context:
        st.caption(record.context)
    participant = own_name_field("Your name", "decide.participant", "Each participant answers under their own name")
    answers = answers_by_participant(db, record.id)
    mine = answers.get(participant, {})
    saver = partial(save, record.id, participant) if participant else None
    if saver is None:
        st.warning("Enter your name to answer. Until then you see how the room answered.")
    polls = room_polls(answers)
    answering = Answering(f"{record.id}.{participant}", mine, polls, saver)

    @st.fragment(run_every="5s")
    def live_verdict() -> None:
        with reported_errors():
            room = answers_by_participant(db, record.id)
            verdict_panel(decide(consensus_answers(room)), len(room))
            splits_list(room_polls(room))

    framing_tab, checklist_tab, factors_tab, quick_tab, session_tab = st.tabs(
        ["Framing", "Nine-question checklist", "Six-factor table", "Quick list", "Session"])

    with framing_tab:
        questions, tables = st.columns([3, 2])
        with questions:
            st.markdown("The first question a facilitator asks: what kind of need is this?")
            answering.question(ins.FRAMING_KEY, ins.FRAMING_QUESTION, ins.FRAMING_ANSWERS,
                               ins.FRAMING_ANSWERS)
            st.caption(ins.FRAMING_NOTE)
        with tables:
            tradeoff_table(WHAT_EACH_FIXES)

    with checklist_tab:
        questions, side = st.columns([3, 2])
        with questions:
            st.markdown("Answer each question; the first arrow that points somewhere ends the walk.")
            answering.numbered_yes_no("checklist", ins.NINE_QUESTIONS)
        with side:
            live_verdict()
            for table in (MECHANISMS, OPERATIONS, FAILURE_MODES):
                tradeoff_table(table)

    with factors_tab:
        st.markdown("For each factor, which column describes your situation? "
                    "Whichever column gathers more check marks is the starting recommendation.")
        for factor in ins.SIX_FACTORS:
            answering.question(f"factor.{factor.key}", factor.name, factor_options(factor), FACTOR_LABELS)

    with quick_tab:
        st.markdown("Run down this list; stop at the first strong signal.")
        answering.numbered_yes_no("quick", ins.QUICK_STEPS)
        st.markdown(f"5. {ins.QUICK_FALLBACK}")

    with session_tab:
        st.download_button("Export report (markdown)", render_markdown(record, answers),
                           file_name=f"decision-session-{record.id}.md", mime="text/markdown")
        st.page_link("pages/report.py", label="The evidence: this verdict beside the runs that test it",
                     icon=":material/summarize:", query_params={"session": str(record.id)})
        with st.form("decide.edit_session"):
            name = st.text_input("Name", value=record.name)
            context = st.text_area("What are we deciding?", value=record.context)
            blocked = missing_role(Role.ADMIN, "Editing a session")
            if st.form_submit_button("Save changes", disabled=bool(blocked), help=blocked):
                update_session(db, record.id, name=name, context=context, actor=acting_user())
                st.rerun()
        if answers:
            leaving = st.selectbox("Remove a participant's answers", sorted(answers), index=None)
            if leaving and st.button(f"Remove {leaving}'s answers"):
                remove_participant(db, record.id, leaving, acting_user())
                st.rerun()
        if st.checkbox("I want to delete this session and all its answers"):
            if st.button("Delete session", type="primary"):
                delete_session(db, record.id, acting_user())
                st.query_params.clear()
                st.rerun()
