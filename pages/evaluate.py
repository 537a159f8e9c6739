"""Evaluate: the golden eval sets every system is graded on (upload, inspect, remove) and the demo."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.evaluation.demo import set_up_demo
from core.evaluation.sets import eval_items, import_eval_upload, list_eval_sets, remove_eval_set
from ui.common import database, ensure_router, flash, reported_errors, show_flash

ensure_router()
st.title("Evaluate")
st.caption("Eval sets are the questions every system is graded on: JSONL, one question per line, checked on "
           "import (eval_sets/README.md describes the format).")
show_flash()


def demo_section(db) -> None:
    with st.expander("The demo: Ledgerly's docs v1 and v2"):
        st.markdown("Two knowledge bases (`ledgerly-v1`, `ledgerly-v2`), their eval sets, and the fine-tuning "
                    "dataset `ledgerly-docs-v1` (v1's facts plus the house-style sample). What exists is kept.")
        if st.button("Set up the demo", key="ev_demo"):
            with reported_errors(), st.spinner("Indexing the docs and importing the sets…"):
                setup = set_up_demo(db)
                flash(f"Demo ready: {len(setup.created)} created, {len(setup.existing)} already there.")


def upload_section(db) -> None:
    st.subheader("Import an eval set")
    upload = st.file_uploader("JSONL file", type=["jsonl"], key="ev_upload")
    name = st.text_input("Name", value=Path(upload.name).stem if upload else "", key="ev_name")
    if st.button("Import", type="primary", key="ev_import", disabled=upload is None):
        with reported_errors():
            row = import_eval_upload(db, name, upload.getvalue(), upload.name)
            flash(f"Imported {row.name}: {row.item_count} questions.", ev_chosen=row.name)


def sets_section(db) -> None:
    sets = list_eval_sets(db)
    st.subheader("Eval sets")
    if not sets:
        st.info("No eval set yet: import one above, or set up the demo.")
        return
    st.dataframe([{"name": s.name, "questions": s.item_count, "source": s.source, "imported": s.created_at}
                  for s in sets], hide_index=True)
    chosen = st.selectbox("Show", [s.name for s in sets], key="ev_chosen")
    st.dataframe([{"id": i.item_id, "question": i.question, "reference": i.reference_answer, "kind": i.kind,
                   "sources": ", ".join(i.relevant_sources), "keywords": ", ".join(i.keywords),
                   "tags": ", ".join(i.tags)} for i in eval_items(db, chosen)], hide_index=True)
    if st.button(f"Remove {chosen}", key="ev_remove"):
        remove_eval_set(db, chosen)
        flash(f"Removed {chosen}.")


db = database()
if db is not None:
    demo_section(db)
    with reported_errors():
        upload_section(db)
        sets_section(db)
