"""Home: what the lab is for and where to start."""

import streamlit as st

from core.checklist.sessions import list_sessions
from core.checklist.views import recent_session_rows
from ui.common import database, ensure_router, reported_errors

ensure_router()
st.title("RAG-or-Tune Lab")
st.markdown(
    "Decide whether to answer questions about your own knowledge with **retrieval (RAG)**, "
    "a **LoRA fine-tuned model**, or **both**, then prove the decision on your own data.\n\n"
    "1. **Decide**: run the decision checklist as a workshop; the verdict names the experiment "
    "that would confirm it.\n"
    "2. **Build, compare, grade**: build the variants the verdict asks for, ask them side by side, "
    "and score them on a golden eval set.\n"
    "3. **Remember**: every session and run is kept, to compare over time."
)
st.page_link("pages/decide.py", label="Start or join a decision session", icon=":material/checklist:")
st.page_link("pages/knowledge.py", label="Build a knowledge base for RAG", icon=":material/library_books:")
st.page_link("pages/finetune.py", label="Fine-tune a LoRA adapter", icon=":material/model_training:")
st.page_link("pages/playground.py", label="Ask several systems side by side", icon=":material/forum:")

db = database()
if db is not None:
    with reported_errors():
        sessions = list_sessions(db)
        if sessions:
            st.subheader("Recent decision sessions")
            st.dataframe(recent_session_rows(sessions), hide_index=True)
