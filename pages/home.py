"""Home: what the team is doing now (jobs, runs, sessions) and where to start."""

import streamlit as st

from core.evaluation.demo import DEMOS
from core.evaluation.demo_job import DemoJob, submit_demo
from core.evaluation.job import EvalJob
from core.evaluation.review import my_queues
from core.evaluation.views import queue_choice_label
from core.finetune.job import TrainingJob
from core.finetune.kb_dataset_job import KbDatasetJob
from core.finetune.merge_job import MergeJob
from core.history.home import job_line, running_jobs, team_overview
from core.rag.index_job import IndexJob
from ui.auth import acting_user
from ui.common import JOBS_REFRESH_S, database, ensure_router, flash, reported_errors, show_flash

FIRST_DEMO = "ledgerly"
JOB_PAGES = {TrainingJob.name: "pages/finetune.py", MergeJob.name: "pages/finetune.py",
             KbDatasetJob.name: "pages/finetune.py", IndexJob.name: "pages/knowledge.py",
             EvalJob.name: "pages/evaluate.py", DemoJob.name: "pages/evaluate.py"}


@st.fragment(run_every=JOBS_REFRESH_S)
def running_now(db) -> None:
    with reported_errors():
        jobs = running_jobs(db)
        st.subheader("Running now")
        if not jobs:
            st.caption("No job is running.")
        for job in jobs:
            st.progress(job.progress, text=job_line(job))
            st.page_link(JOB_PAGES.get(job.kind, "pages/home.py"), label=f"Follow job {job.id}",
                         icon=":material/open_in_new:")


def my_review_queue(db) -> None:
    actor = acting_user()
    if not actor.signed_in:  # without sign-in a queue is kept under a typed name, asked on the Review page
        return
    st.subheader("My review queue")
    queues = [queue for queue in my_queues(db, actor.email) if queue.left]
    for queue in queues:
        st.progress(queue.labelled / queue.assigned, text=queue_choice_label(queue))
    if queues:
        st.page_link("pages/review.py", label="Label the answers in my queue", icon=":material/rate_review:")
    else:
        st.caption("Nothing waits for your label.")


def team_sections(db) -> None:
    overview = team_overview(db)
    if overview.is_empty:
        demo = DEMOS[FIRST_DEMO]
        st.info(f"This lab is empty. **{demo.title}**: {demo.description}")
        if st.button(f"Set up the demo: {demo.title}", type="primary"):
            job = submit_demo(db, demo.name, acting_user())
            flash(f"Setting up {demo.title} in the background (job {job.id}); the Evaluate page follows it.")
    running_now(db)
    st.subheader("Latest runs")
    if overview.latest_runs:
        st.dataframe(overview.latest_runs, hide_index=True)
        st.page_link("pages/history.py", label="Every run over time", icon=":material/timeline:")
    else:
        st.caption("No finished eval run yet.")
    my_review_queue(db)
    st.subheader("Decision sessions")
    if overview.sessions:
        st.dataframe(overview.sessions, hide_index=True)
    else:
        st.caption("No decision session yet.")


ensure_router()
st.title("RAG-or-Tune Lab")
show_flash()
st.markdown(
    "Decide whether to answer questions about your own knowledge with **retrieval (RAG)**, "
    "a **LoRA fine-tuned model**, or **both**, then prove the decision on your own data: **decide** in a "
    "workshop, **build, compare and grade** the variants its verdict asks for, and **remember** every run."
)
columns = st.columns(4)
for column, (page, label, icon) in zip(columns, (
        ("pages/decide.py", "Start or join a decision session", ":material/checklist:"),
        ("pages/knowledge.py", "Build a knowledge base for RAG", ":material/library_books:"),
        ("pages/finetune.py", "Fine-tune a LoRA adapter", ":material/model_training:"),
        ("pages/playground.py", "Ask several systems side by side", ":material/forum:"))):
    column.page_link(page, label=label, icon=icon)

db = database()
if db is not None:
    with reported_errors():
        team_sections(db)
