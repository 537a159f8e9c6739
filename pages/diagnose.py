"""Diagnose: the seeds' seven failure modes of RAG and fine-tuning, found (or not) in the stored runs."""

from __future__ import annotations

import streamlit as st

from core.checklist.sessions import get_session, list_sessions
from core.diagnosis.actions import ACTIONS, carry_out
from core.diagnosis.diagnose import diagnose
from core.diagnosis.finding import Finding, Status
from core.diagnosis.views import STATUS_MARKS, diagnosis_markdown, figure_rows, finding_rows, question_rows
from core.evaluation.runs import list_runs
from ui.auth import acting_user, missing_role
from ui.common import database, ensure_router, flash, reported_errors, show_flash

ensure_router()
st.title("Diagnose")
st.caption("Each failure mode of the seed's table, looked for in the runs below: found, not found, or cannot "
           "tell (and which run would tell). Every figure comes with its 95% interval and the questions behind it.")
show_flash()
SCOPES = ("Newest runs", "A decision session", "Chosen runs")
QUESTION_LINKS = 5  # the table lists every question; the first few are links


def scope(db) -> tuple[list[int], int | None]:
    kind = st.radio("Read", SCOPES, horizontal=True, key="diag_scope")
    if kind == SCOPES[1]:
        sessions = {s.id: s.name for s in list_sessions(db)}
        if not sessions:
            st.info("No decision session yet: hold one on the Decide page.")
            st.stop()
        return [], st.selectbox("Decision session", list(sessions), format_func=sessions.get, key="diag_session")
    if kind == SCOPES[2]:
        runs = {run.id: f"run {run.id}: {run.eval_set} ({len(run.systems)} systems)"
                for run, _ in list_runs(db) if run.finished_at}
        chosen = st.multiselect("Runs", list(runs), format_func=runs.get, key="diag_runs")
        if not chosen:
            st.info("Choose the runs to read.")
            st.stop()
        return chosen, None
    return [], None


def show_finding(db, number: int, finding: Finding) -> None:
    about = f" ({finding.subject})" if finding.subject else ""
    with st.expander(f"{number}. {STATUS_MARKS[finding.status]}: {finding.mode.title}{about}",
                     expanded=finding.found):
        st.markdown(finding.summary)
        if finding.figures:
            st.dataframe(figure_rows(finding), hide_index=True, key=f"diag_figures_{number}")
        for run_id in finding.runs:
            st.page_link("pages/evaluate.py", label=f"Run {run_id} on Evaluate", icon=":material/fact_check:",
                         query_params={"run": str(run_id)})
        if finding.questions:
            st.caption("The questions that show it (open one to read every system's answer and context)")
            st.dataframe(question_rows(finding), hide_index=True, key=f"diag_questions_{number}")
            for question in finding.questions[:QUESTION_LINKS]:
                st.page_link("pages/evaluate.py", label=f"Run {question.run_id}, question {question.item_id}",
                             query_params={"run": str(question.run_id), "question": question.item_id})
        st.markdown(f"**What to do:** {finding.fix}.  \n*The seed's root cause ({finding.mode.approach}):* "
                    f"{finding.mode.cause}; *its fix:* {finding.mode.fix}.")
        if finding.action is not None:
            kind = ACTIONS[finding.action.kind]
            refused = missing_role(kind.role, kind.doing)
            if st.button(finding.action.label, key=f"diag_act_{number}", disabled=refused is not None, help=refused):
                with reported_errors():
                    flash(carry_out(db, finding.action.kind, finding.action.params, acting_user()).message)


db = database()
if db is not None:
    with reported_errors():
        run_ids, session_id = scope(db)
        diagnosis = diagnose(db, run_ids, session_id)
        recommendation = ((get_session(db, session_id).verdict or {}).get("recommendation")
                          if session_id is not None else None)
        counts = {status: len(diagnosis.with_status(status)) for status in Status}
        found, clear, unknown = st.columns(3)
        found.metric("Found", counts[Status.FOUND])
        clear.metric("Not found", counts[Status.NOT_FOUND])
        unknown.metric("Cannot tell", counts[Status.CANNOT_TELL])
        st.caption(f"Runs read: {', '.join(map(str, diagnosis.run_ids)) or 'none yet'}.")
        st.dataframe(finding_rows(diagnosis, recommendation), hide_index=True, key="diag_table",
                     column_order=["#", "status", "mode", "about", *(["verdict"] if recommendation else []),
                                   "summary"])
        for number, finding in enumerate(diagnosis.findings, start=1):
            show_finding(db, number, finding)
        st.download_button("Download the diagnosis (markdown)", diagnosis_markdown(diagnosis, recommendation),
                           "diagnosis.md", "text/markdown", key="diag_download")
