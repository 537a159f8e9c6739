"""Evaluate: eval sets (upload, inspect, remove, the demo) and runs (start, follow, read the results)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.access import Role
from core.evaluation.catalog import (CATALOG, CONTAINS_REFERENCE, JUDGE_METRICS, METRICS, SHORT_REFERENCE_WORDS,
                                     UNSTABLE_SPREAD, default_metrics)
from core.evaluation.demo import DEMOS
from core.evaluation.demo_job import DemoJob, submit_demo
from core.evaluation.experiments import experiment_systems, proposed_experiments
from core.evaluation.judge import MAX_REPEATS, REPEAT_TEMPERATURE, is_weak_judge
from core.evaluation.labels import LABELS, judge_agreement, save_label
from core.evaluation.pairwise import submit_pairwise
from core.evaluation.review import human_scores
from core.evaluation.runs import RunOptions, list_runs, submit_eval
from core.evaluation.sets import eval_items, import_eval_upload, list_eval_sets, remove_eval_set
from core.evaluation.views import (calibration_line, eval_item_rows, eval_set_rows, item_choices, metric_bars,
                                   pairwise_rows, question_rows, run_choice_label, score_line, summary_rows,
                                   unstable_rows)
from core.jobs import scheduler
from core.llm.adapters import list_adapters
from core.playground import preset_systems
from core.rag.knowledge import ready_knowledge_bases
from core.rag.views import citation_label
from ui.auth import acting_user, missing_role, own_name_field
from ui.common import database, ensure_router, flash, job_controls, live_jobs, reported_errors, show_flash

LIVE_REFRESH_S = 2
REQUESTED_QUESTION = "ev_requested_question"  # a question a link asked to open, until its run is shown

ensure_router()
st.title("Evaluate")
st.caption("Eval sets are the questions every system is graded on: JSONL, one question per line, checked on "
           "import (eval_sets/README.md describes the format).")
show_flash()


def demo_section(db) -> None:
    blocked = missing_role(Role.ADMIN, "Setting up a demo")
    with st.expander("The demos"):
        for demo in DEMOS.values():
            st.markdown(f"**{demo.title}**: {demo.description} What exists is kept.")
            if st.button(f"Set up {demo.title}", key=f"ev_demo_{demo.name}", disabled=bool(blocked), help=blocked):
                with reported_errors():
                    job = submit_demo(db, demo.name, acting_user())
                    flash(f"Setting up {demo.title} in the background (job {job.id}): follow it below; it goes on "
                          "if you close the page.")
    live_jobs(db, DemoJob.name, "Setting up demos", demo_outcome, "Resume (what was made is kept)")


def demo_outcome(job) -> None:
    created, existing = job.result.get("created", []), job.result.get("existing", [])
    st.caption(f"{DEMOS[job.config['demo']].title} ready: {len(created)} created, {len(existing)} already there.")


def upload_section(db) -> None:
    st.subheader("Import an eval set")
    upload = st.file_uploader("JSONL file", type=["jsonl"], key="ev_upload")
    name = st.text_input("Name", value=Path(upload.name).stem if upload else "", key="ev_name")
    blocked = missing_role(Role.ADMIN, "Importing an eval set")
    if st.button("Import", type="primary", key="ev_import", disabled=upload is None or bool(blocked), help=blocked):
        with reported_errors():
            row = import_eval_upload(db, name, upload.getvalue(), upload.name, actor=acting_user())
            flash(f"Imported {row.name}: {row.item_count} questions.", ev_chosen=row.name)


def sets_section(db) -> None:
    sets = list_eval_sets(db)
    st.subheader("Eval sets")
    if not sets:
        st.info("No eval set yet: import one above, or set up the demo.")
        return
    st.dataframe(eval_set_rows(sets), hide_index=True)
    chosen = st.selectbox("Show", [s.name for s in sets], key="ev_chosen")
    st.dataframe(eval_item_rows(eval_items(db, chosen)), hide_index=True)
    blocked = missing_role(Role.ADMIN, "Removing an eval set")
    if st.button(f"Remove {chosen}", key="ev_remove", disabled=bool(blocked), help=blocked):
        remove_eval_set(db, chosen, actor=acting_user())
        flash(f"Removed {chosen}.")


def run_form(db) -> None:
    sets = list_eval_sets(db)
    if not sets:
        return
    st.subheader("Run an evaluation")
    experiment = experiment_picker(db)
    # outside the form, so that choosing another set resets the metrics to its defaults
    eval_set = st.selectbox("Eval set", [s.name for s in sets], key="ev_run_set",
                            on_change=lambda: st.session_state.pop("ev_run_metrics", None))
    with st.form("ev_run"):
        systems = st.multiselect("Systems", preset_systems([a.name for a in list_adapters(db)],
                                                           ready_knowledge_bases(db)),
                                 default=["local"], accept_new_options=True, key="ev_run_systems",
                                 help="Pick presets or type any system spec, e.g. `local?kb=ledgerly-v2`")
        metrics = st.multiselect("Metrics", METRICS, default=list(default_metrics(eval_items(db, eval_set))),
                                 key="ev_run_metrics",
                                 help="\n".join(f"- `{name}`: {CATALOG[name].help}" for name in METRICS))
        st.caption(f"Short exact references (a name, a number): `{CONTAINS_REFERENCE}` and `exact_match`; long "
                   "free-text ones: `token_f1`, `semantic_similarity` and a judge. "
                   f"`{CONTAINS_REFERENCE}` is chosen by default when the set's median reference has at most "
                   f"{SHORT_REFERENCE_WORDS} words.")
        judge = st.text_input("Judge (optional)", key="ev_run_judge", placeholder="anthropic:claude-sonnet-4-5",
                              help="A system that grades each answer's correctness 1-5 against the reference, and "
                                   f"that ragas asks for {', '.join(JUDGE_METRICS)}. The local model works but is a "
                                   "weak judge.")
        repeats = st.number_input("Judge each answer K times", 1, MAX_REPEATS, RunOptions.judge_repeats,
                                  key="ev_run_judge_repeats",
                                  help="More than once: the judge samples at temperature "
                                       f"{REPEAT_TEMPERATURE}, its score is the mean of the K grades, and answers "
                                       f"whose grades lie {UNSTABLE_SPREAD} or more apart are listed as unstable.")
        left, middle, right = st.columns(3)
        max_new = left.number_input("Max new tokens", 1, 4096, RunOptions.max_new_tokens, key="ev_run_max_new")
        batch = middle.number_input("Batch size", 1, 256, RunOptions.batch_size, key="ev_run_batch",
                                    help="questions a local model answers in one batched call")
        limit = right.number_input("First N questions only", 1, None, None, key="ev_run_limit", placeholder="all",
                                   help="a quick check of the systems on the set's first questions before a full run")
        if not st.form_submit_button("Start the run", type="primary"):
            return
    with reported_errors():
        run = submit_eval(db, eval_set, systems, metrics, RunOptions(int(max_new), batch_size=int(batch),
                                                                 limit=int(limit) if limit else None,
                                                                 judge_repeats=int(repeats)), judge=judge,
                          decision_session_id=experiment.session_id if experiment else None, actor=acting_user())
        flash(f"Run {run.id} started: it goes on if you close the page.", ev_run_select=run.id)


def experiment_picker(db):
    """Start from a decision session's proposed experiment: its variants fill the systems."""
    experiments = {e.session_id: e for e in proposed_experiments(db)}
    if not experiments:
        return None
    with st.expander("Start from a decision session's proposed experiment"):
        chosen = st.selectbox("Decision session", [None, *experiments], key="ev_exp_session",
                              format_func=lambda i: "(none)" if i is None else
                              f"{experiments[i].session_name}: {experiments[i].verdict}")
        if chosen is None:
            return None
        experiment = experiments[chosen]
        st.markdown(f"**Compare:** {experiment.variant_labels}  \n**Eval set:** {experiment.eval_set}  \n"
                    f"**Confirmed if:** {experiment.confirms_if}")
        left, right = st.columns(2)
        kb = left.selectbox("Knowledge base", ready_knowledge_bases(db), key="ev_exp_kb",
                            disabled=not experiment.needs_knowledge_base)
        adapter = right.selectbox("Adapter", [a.name for a in list_adapters(db)], key="ev_exp_adapter",
                                  disabled=not experiment.needs_adapter)
        if st.button("Use these systems", key="ev_exp_use"):
            with reported_errors():
                st.session_state["ev_run_systems"] = experiment_systems(experiment, kb, adapter)
                st.rerun()
        st.caption("A run started while a session is chosen is linked to it, for its report.")
    return experiment


@st.fragment(run_every=LIVE_REFRESH_S)
def runs_section(db) -> None:
    """Re-read every few seconds: reconcile jobs, show progress, then the results."""
    with reported_errors():
        scheduler.refresh(db)
        runs = {run.id: (run, job) for run, job in list_runs(db)}
        if not runs:
            return
        st.subheader("Runs")
        requested = st.query_params.get("run")  # History and Diagnose link to a run (and Diagnose to a question)
        if requested and requested.isdigit() and int(requested) in runs:
            st.session_state["ev_run_select"] = int(requested)
            st.session_state[REQUESTED_QUESTION] = st.query_params.get("question")
            del st.query_params["run"]
            st.query_params.pop("question", None)
        chosen = st.selectbox("Run", list(runs), key="ev_run_select", format_func=lambda i: run_choice_label(*runs[i]))
        run, job = runs[chosen]
        if job is not None:
            job_controls(db, job, "Resume (answered questions are kept)")
        if run.summary:
            results_view(db, run)


def results_view(db, run) -> None:
    st.caption(f"Revision {run.git_revision or '?'} · options {run.options}. Latency: what each asker waited "
               "(a batch's whole time) and each answer's share of its batch.")
    if run.judge:
        st.caption(f"Judge: `{run.judge}`" + (" (a small local model: a weak judge, read its scores with care)"
                                             if is_weak_judge(run.judge) else ""))
    st.table(summary_rows(run, human_scores(db, run.id)), hide_index=True)
    if run.judge:
        st.caption(calibration_line(judge_agreement(db, run.id)))
    st.caption("Means are over the answered questions; where a system failed some, the \"(failures as 0)\" "
               "columns count each failure as a 0, so failing the hard questions does not raise a score.")
    unstable_section(db, run)
    st.plotly_chart(metric_bars(run), key=f"ev_bars_{run.id}")
    pairwise_section(db, run)
    items = dict(item_choices(db, run))
    if st.session_state.get(REQUESTED_QUESTION) in items:
        st.session_state[f"ev_item_{run.id}"] = st.session_state.pop(REQUESTED_QUESTION)
    item = st.selectbox("Question", list(items), key=f"ev_item_{run.id}", format_func=lambda i: f"{i} · {items[i]}")
    reviewer = own_name_field("Your name, to label answers", "ev_reviewer")
    for column, answer in zip(st.columns(len(run.systems)), question_rows(db, run, item)):
        with column:
            st.markdown(f"**`{answer['system']}`**")
            if answer["error"]:
                st.error(answer["error"])
                continue
            st.markdown(answer["text"] or "_(empty answer)_")
            st.caption(score_line(answer["scores"]))
            for name, reason in answer["reasons"].items():
                st.caption(f"{name}: {reason}")
            label_form(db, answer, reviewer)
            for context in answer["contexts"]:
                with st.expander(citation_label(context)):
                    st.code(context["text"], language=None)


def unstable_section(db, run) -> None:
    """The answers whose repeated judge grades lay far apart: their judge score is the luck of the draw."""
    rows = unstable_rows(db, run)
    if rows:
        st.caption(f"Unstable judgements: the judge's grades of these answers lay {UNSTABLE_SPREAD} or more apart "
                   "over its repeats; a human label settles them.")
        st.dataframe(rows, hide_index=True)


def pairwise_section(db, run) -> None:
    if run.pairwise:
        st.caption("Pairwise judge (each pair judged in both orders; orders that disagree are a tie):")
        st.table(pairwise_rows(run), hide_index=True)
    if len(run.systems) < 2:
        return
    with st.popover("Judge two systems pairwise"):
        left, right = st.columns(2)
        system_a = left.selectbox("A", run.systems, key=f"ev_pair_a_{run.id}")
        system_b = right.selectbox("B", run.systems, index=1, key=f"ev_pair_b_{run.id}")
        judge = st.text_input("Judge", value=run.judge or "", key=f"ev_pair_judge_{run.id}",
                              placeholder="anthropic:claude-sonnet-4-5")
        if st.button("Start judging", key=f"ev_pair_start_{run.id}"):
            with reported_errors():
                submit_pairwise(db, run.id, system_a, system_b, judge, actor=acting_user())
                st.rerun()


def label_form(db, answer: dict, reviewer: str) -> None:
    for label in answer["labels"]:
        st.caption(f"Label · {label}")
    with st.popover("Label this answer"):
        grade = st.radio("Grade", LABELS, horizontal=True, key=f"ev_label_{answer['id']}")
        comment = st.text_input("Comment", key=f"ev_comment_{answer['id']}")
        if st.button("Save label", key=f"ev_save_{answer['id']}"):
            with reported_errors():
                save_label(db, answer["id"], reviewer, grade, comment, actor=acting_user())
                st.rerun()


db = database()
if db is not None:
    demo_section(db)
    with reported_errors():
        upload_section(db)
        sets_section(db)
        run_form(db)
    runs_section(db)
