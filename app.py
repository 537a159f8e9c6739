"""RAG-or-Tune Lab: the router and the shared sidebar. Pages live in pages/."""

import os

import streamlit as st

from core.access import Role, allows
from core.errors import LabError
from ui.auth import signed_in_or_stop
from ui.common import sidebar

# Local models generate in the model server, started on demand: never in this process's script threads.
os.environ.setdefault("RAGTUNE_MODEL_SERVER", "on")

st.set_page_config(page_title="RAG-or-Tune Lab", page_icon=":material/balance:", layout="wide")
actor = signed_in_or_stop()

navigation = st.navigation(
    {
        "Lab": [
            st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
            *([st.Page("pages/audit.py", title="Audit log", icon=":material/policy:", url_path="audit")]
              if allows(actor, Role.ADMIN) else []),
        ],
        "Decide": [
            st.Page("pages/decide.py", title="Decide", icon=":material/checklist:", url_path="decide"),
        ],
        "Build": [
            st.Page("pages/knowledge.py", title="Knowledge", icon=":material/library_books:", url_path="knowledge"),
            st.Page("pages/finetune.py", title="Fine-tune", icon=":material/model_training:", url_path="finetune"),
        ],
        "Compare": [
            st.Page("pages/playground.py", title="Playground", icon=":material/forum:", url_path="playground"),
        ],
        "Grade": [
            st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:", url_path="evaluate"),
            st.Page("pages/review.py", title="Review", icon=":material/rate_review:", url_path="review"),
        ],
        "Remember": [
            st.Page("pages/history.py", title="History", icon=":material/timeline:", url_path="history"),
            st.Page("pages/diagnose.py", title="Diagnose", icon=":material/troubleshoot:", url_path="diagnose"),
            st.Page("pages/report.py", title="Decision report", icon=":material/summarize:", url_path="report"),
        ],
    }
)
sidebar()
try:
    navigation.run()
except LabError as exc:
    st.error(str(exc))
