"""Playground: ask up to four systems the same question and compare the answers side by side."""

from __future__ import annotations

from typing import Sequence

import streamlit as st

from core.llm.adapters import list_adapters
from core.llm.base import GenerationOptions, cost_line
from core.llm.spec import FORMS
from core.playground import MAX_SYSTEMS, ask_and_save, list_history, preset_systems
from core.rag.knowledge import ready_knowledge_bases
from core.rag.views import citation_label
from core.store.tables import PlaygroundAnswer
from ui.auth import acting_user
from ui.backends import system_backend
from ui.common import database, ensure_router, reported_errors

ensure_router()
st.title("Playground")
st.caption("Ask several systems the same question; every answer shows its latency, tokens and cost. "
           "Local models load on first use (seconds), then stay loaded.")


def show_answers(answers: Sequence[PlaygroundAnswer]) -> None:
    for column, answer in zip(st.columns(len(answers)), answers):
        with column:
            st.markdown(f"**`{answer.system}`**")
            if answer.error:
                st.error(answer.error)
                continue
            st.markdown(answer.text or "_(empty answer)_")
            st.caption(cost_line(answer))
            for citation in answer.citations:
                with st.expander(citation_label(citation)):
                    st.code(citation["text"], language=None)
            for warning in answer.warnings:
                st.warning(warning)


def ask_form(db) -> None:
    with st.form("playground_ask"):
        presets = preset_systems([a.name for a in list_adapters(db)], ready_knowledge_bases(db))
        chosen_elsewhere = "playground_systems" in st.session_state  # e.g. "Try in Playground" on Fine-tune
        systems = st.multiselect(
            "Systems", presets, default=None if chosen_elsewhere else ["local"], max_selections=MAX_SYSTEMS,
            accept_new_options=True, key="playground_systems",
            help="Pick presets or type a spec: " + ", ".join(f"`{form}`" for form in FORMS))
        question = st.text_area("Question", key="playground_question")
        with st.expander("Options"):
            system_prompt = st.text_area("System prompt", key="playground_system_prompt")
            max_new_tokens = st.number_input("Max new tokens", 1, 4096, 128, key="playground_max_new_tokens")
            temperature = st.slider("Temperature (0 = greedy)", 0.0, 1.5, 0.0, 0.1, key="playground_temperature")
        if not st.form_submit_button("Ask", type="primary"):
            return
    options = GenerationOptions(max_new_tokens=int(max_new_tokens), temperature=float(temperature))
    exchange = None
    with reported_errors(), st.status("Asking…") as status:
        exchange = ask_and_save(
            db, question, systems, options, system_prompt=system_prompt, backend_for=system_backend,
            on_system=lambda i, system: status.update(label=f"Asking `{system}` ({i + 1}/{len(systems)})…"),
            actor=acting_user())
        status.update(label="Answered", state="complete", expanded=False)
    if exchange is not None:
        show_answers(exchange.answers)


def history(db) -> None:
    exchanges = list_history(db)
    if not exchanges:
        return
    st.subheader("History")
    for exchange in exchanges:
        with st.expander(exchange.heading):
            if exchange.question.system_prompt:
                st.caption(f"System prompt: {exchange.question.system_prompt}")
            show_answers(exchange.answers)


db = database()
if db is not None:
    ask_form(db)
    with reported_errors():
        history(db)
