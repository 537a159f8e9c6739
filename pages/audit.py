"""Audit log: who did what, when, with a short before and after (admins only; the router lists it for them)."""

import streamlit as st

from core.access.audit import audit_log, audit_rows
from ui.auth import acting_user
from ui.common import database, ensure_router, reported_errors

ensure_router()
st.title("Audit log")
st.caption("Every change to users, and every removal or baseline, newest first. Kept for good: nothing removes "
           "an entry.")
db = database()
if db is not None:
    with reported_errors():
        rows = audit_rows(audit_log(db, acting_user()))
        if rows:
            st.dataframe(rows, hide_index=True)
        else:
            st.info("Nothing recorded yet.")
