"""Widgets and guards every page uses."""

from __future__ import annotations

import runpy
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from core.errors import LabError
from core.settings import get_settings
from core.store import Database, current_database
from core.store.tables import Job

APP_PATH = Path(__file__).resolve().parents[1] / "app.py"


def ensure_router() -> None:
    """Run this page through app.py's router when Streamlit skipped it.

    Streamlit treats a `pages/` folder beside the entrypoint as a legacy
    multipage app until `st.navigation` has run in the process (and AppTest
    resets that on every run), so a deep link such as /decide?session=3 would
    run the page bare: no sidebar, no layout. Every page calls this first; the
    router then runs the page within this same script run, so widget events
    are not lost, and the bare run stops here.
    """
    if PagesManager.uses_pages_directory:
        runpy.run_path(str(APP_PATH), run_name="__main__")
        st.stop()


def database() -> Optional[Database]:
    """The migrated database, or None after showing why it cannot be used."""
    try:
        return current_database()
    except LabError as exc:
        st.error(str(exc))
        return None


@contextmanager
def reported_errors() -> Iterator[None]:
    """Show a `LabError` as a message in place, instead of a traceback."""
    try:
        yield
    except LabError as exc:
        st.error(str(exc))


def sidebar() -> None:
    settings = get_settings()
    with st.sidebar:
        st.caption(f"Data: `{settings.data_dir}`")
        try:
            db = current_database()
            st.caption(f"Database: `{db.location}`")
        except LabError as exc:
            st.caption(f":red[Database unavailable:] {exc}")


FLASH_KEY = "common.flash"
SELECT_NEXT_KEY = "common.select_next"


def flash(message: str, **select) -> None:
    """Show `message` after a rerun, so what is listed above it reflects the change.
    `select` gives widgets (by key) the value to take in the next run: a widget's
    value can only change before it is drawn, e.g. to select what was just built."""
    st.session_state[FLASH_KEY] = message
    st.session_state[SELECT_NEXT_KEY] = select
    st.rerun()


def show_flash() -> None:
    """At the top of a page: the message `flash` left, and the selections it asked for."""
    if FLASH_KEY in st.session_state:
        st.success(st.session_state.pop(FLASH_KEY))
    for key, value in st.session_state.pop(SELECT_NEXT_KEY, {}).items():
        st.session_state[key] = value


def job_controls(db: Database, job, resume_label: str = "Resume") -> None:
    """A background job's progress with Cancel while it runs, its error, and Resume where it can."""
    from core.jobs import queue, scheduler

    if job.status in queue.ACTIVE:
        st.progress(job.progress, text=job.progress_text or job.status)
        if st.button("Cancel", key=f"job_cancel_{job.id}"):
            scheduler.cancel(db, job.id)
            st.rerun()
    if job.error:
        st.error(job.error)
    if job.status in queue.RESUMABLE and st.button(resume_label, key=f"job_resume_{job.id}"):
        with reported_errors():
            scheduler.resume(db, job.id)
            st.rerun()


JOBS_REFRESH_S = 2


@st.fragment(run_every=JOBS_REFRESH_S)
def live_jobs(db: Database, kind: str, heading: str, outcome: Optional[Callable[[Job], None]] = None,
              resume_label: str = "Resume") -> None:
    """Jobs of `kind` still going or ended within the hour, re-read every few seconds: each with
    `job_controls`, and `outcome(job)` drawing what a succeeded one made. When a job this page
    watched ends, the whole page runs again, so what the job made shows everywhere on it."""
    from core.jobs import queue, scheduler

    scheduler.refresh(db)
    jobs = queue.recent_jobs(db, kind)
    watched_key = f"common.live_jobs.{kind}"
    active = [job.id for job in jobs if job.status in queue.ACTIVE]
    ended = set(st.session_state.get(watched_key, ())) - set(active)
    st.session_state[watched_key] = active
    if ended:
        st.rerun()
    if not jobs:
        return
    st.subheader(heading)
    for job in jobs:
        st.markdown(f"**Job {job.id}** · {job.title} · `{job.status}`")
        job_controls(db, job, resume_label)
        if job.status == queue.SUCCEEDED and outcome:
            outcome(job)
