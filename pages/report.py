"""Report: a decision session's verdict beside the evidence of the runs started from its experiment."""

from __future__ import annotations

import streamlit as st

from core.checklist.sessions import list_sessions
from core.checklist.views import requested_session
from core.diagnosis.views import session_section
from core.history.compare import holm_note
from core.history.report import build_report, report_csv, report_html, report_markdown
from ui.common import database, ensure_router, reported_errors

ensure_router()
st.title("Decision report")

db = database()
if db is not None:
    with reported_errors():
        sessions = {s.id: s.name for s in list_sessions(db)}
        if not sessions:
            st.info("No decision session yet: hold one on the Decide page.")
            st.stop()
        ids = list(sessions)
        requested = requested_session(st.query_params.get("session"), ids)
        default = ids.index(requested) if requested is not None else 0
        session_id = st.selectbox("Decision session", ids, index=default, format_func=sessions.get,
                                  key="report_session")
        st.query_params["session"] = str(session_id)
        st.page_link("pages/decide.py", label="Open the session on Decide", icon=":material/checklist:",
                     query_params={"session": str(session_id)})
        report = build_report(db, session_id)
        verdict = report.session.verdict or {}
        st.subheader(f"Verdict: {verdict.get('label', 'none yet')}")
        for reason in verdict.get("reasons", []):
            st.markdown(f"- {reason}")
        show = {"confirms": st.success, "contradicts": st.error}.get(report.conclusion, st.warning)
        show(f"The evidence {report.conclusion} the verdict. {report.conclusion_reason}")
        for statement in report.statements:
            st.markdown(f"- {statement}")
        if report.tests:
            st.caption(holm_note(report.tests))
        if report.table:
            st.table(report.table, hide_index=True)
            for number, figure in enumerate(report.figures):
                st.plotly_chart(figure, key=f"report_figure_{number}")
        diagnosis = session_section(db, report.session)
        st.markdown(diagnosis)
        st.page_link("pages/diagnose.py", label="Each finding's evidence and fix on Diagnose",
                     icon=":material/troubleshoot:")
        link, sections = f"decide?session={session_id}", [diagnosis]
        left, middle, right = st.columns(3)
        left.download_button("Markdown", report_markdown(report, link, sections), f"decision-report-{session_id}.md",
                             "text/markdown", key="report_md")
        middle.download_button("HTML (charts included)", report_html(report, link, sections),
                               f"decision-report-{session_id}.html", "text/html", key="report_html")
        right.download_button("CSV (the comparison table)", report_csv(report), f"decision-report-{session_id}.csv",
                              "text/csv", key="report_csv", disabled=not report.table)
