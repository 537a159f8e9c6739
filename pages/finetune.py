"""Fine-tune: build a dataset, launch a LoRA / QLoRA job (or a sweep of them), watch it live, use the adapter."""

from __future__ import annotations

import streamlit as st

from core.access import Role
from core.evaluation.runs import list_runs
from core.evaluation.sets import list_eval_sets
from core.evaluation.sweep_eval import usable_metrics
from core.finetune import builders
from core.finetune.analysis import base_tokenizer, length_histogram, token_lengths
from core.finetune.datasets import PREFERENCES, get_dataset, list_datasets, read_split
from core.finetune.preferences import build_preferences
from core.finetune.job import TrainingJob, submit_training
from core.finetune.kb_dataset_job import KbDatasetJob, submit_kb_dataset
from core.finetune.merge_job import MergeJob, submit_merge
from core.finetune.monitor import estimate
from core.finetune.sweep import (SEED_LEARNING_RATES, SEED_RANKS, SweepPlan, parse_grid, rate_text, submit_sweep,
                                 sweep_tables)
from core.finetune.views import (adapter_rows, best_line, estimate_line, example_rows, skipped_line, sweep_rows,
                                 training_job_label, training_job_rows)
from core.jobs import queue, scheduler
from core.llm.adapters import list_adapters
from core.rag.knowledge import ready_knowledge_bases
from ui.auth import acting_user, missing_role
from ui.common import database, ensure_router, flash, live_jobs, reported_errors, show_flash
from ui.finetune import LIVE_REFRESH_S, job_panel, training_form


def build_section(db) -> None:
    st.subheader("Build a dataset")
    blocked = missing_role(Role.ADMIN, "Building a dataset")
    sample, upload, git, kb, labelled = st.tabs(["Sample", "Import JSONL", "Git history", "Knowledge base",
                                                 "Labelled answers (DPO)"])
    with labelled:
        preferences_builder(db, blocked)
    with sample:
        st.caption("A small dataset that teaches a house answer format SmolLM2 does not follow by itself: "
                   "a `TL;DR:` line, bullets, a sign-off. Trains in a few minutes on a laptop CPU.")
        if st.button("Add the house-style sample", key="ft_sample", disabled=bool(blocked), help=blocked):
            with reported_errors():
                row = builders.import_sample(db, actor=acting_user())
                flash(f"Added {row.name}: {row.train_count} train / {row.validation_count} validation.",
                      ft_dataset=row.name)
    with upload:
        name = st.text_input("Dataset name", key="ft_upload_name", placeholder="support-style")
        file = st.file_uploader("JSONL file (instruction/response, chat messages or prompt/completion)",
                                type=["jsonl", "json"], key="ft_upload")
        if st.button("Import", key="ft_import", disabled=file is None or bool(blocked), help=blocked):
            with reported_errors():
                row = builders.import_jsonl(db, name, file.getvalue(), file.name, actor=acting_user())
                flash(f"Imported {row.name} ({row.source_format}).", ft_dataset=row.name)
    with git:
        name = st.text_input("Dataset name", key="ft_git_name", placeholder="repo-history")
        repo = st.text_input("Repository path on this machine", key="ft_git_repo")
        rev = st.text_input("Revision", "HEAD", key="ft_git_rev")
        if st.button("Build from commits", key="ft_git_build", disabled=bool(blocked), help=blocked):
            with reported_errors(), st.spinner("Reading the history…"):
                row, skipped = builders.from_git(db, name, repo, rev, actor=acting_user())
                flash(f"Built {row.name} from {row.train_count + row.validation_count} commit(s); skipped "
                      f"{skipped_line(skipped)}.", ft_dataset=row.name)
    with kb:
        knowledge_bases = ready_knowledge_bases(db)
        if not knowledge_bases:
            st.info("No knowledge base yet: build one on the Knowledge page.")
            return
        name = st.text_input("Dataset name", key="ft_kb_name", placeholder="docs-qa")
        chosen = st.selectbox("Knowledge base", knowledge_bases, key="ft_kb")
        system = st.text_input("System that writes the pairs", "local", key="ft_kb_system",
                               help="any spec: `local`, `anthropic:claude-haiku-4-5`, ...")
        limit = st.number_input("Chunks to use", 1, 500, 20, key="ft_kb_limit")
        if st.button("Generate question/answer pairs", key="ft_kb_build", disabled=bool(blocked), help=blocked):
            with reported_errors():
                job = submit_kb_dataset(db, name, chosen, system, int(limit), actor=acting_user())
                flash(f"Writing {name} in the background (job {job.id}): follow it below; it goes on if you close "
                      "the page.")


def preferences_builder(db, blocked: str | None) -> None:
    st.caption("Preference pairs for DPO: for each eval question with an answer labelled correct and one labelled "
               "wrong (on Evaluate or Review), the pair (question, correct, wrong). The seed's fix for brittle SFT.")
    name = st.text_input("Dataset name", key="ft_pref_name", placeholder="support-preferences")
    runs = {run.id: f"run {run.id}: {run.eval_set}" for run, _ in list_runs(db) if run.finished_at}
    chosen = st.multiselect("From runs (none: every run)", list(runs), format_func=runs.get, key="ft_pref_runs")
    if st.button("Build the pairs", key="ft_pref_build", disabled=bool(blocked), help=blocked):
        with reported_errors():
            row = build_preferences(db, name, chosen or None, actor=acting_user())
            flash(f"Built {row.name}: {row.train_count} train / {row.validation_count} validation pair(s).",
                  ft_dataset=row.name)


def kb_dataset_outcome(job) -> None:
    result = job.result
    st.caption(f"Built {result['dataset']}: {result['examples']} pairs from {result['chunks']} chunk(s); "
               f"{result['bad_replies']} unusable reply(ies).")


def dataset_section(db) -> str | None:
    rows = list_datasets(db)
    if not rows:
        st.info("No dataset yet: add the sample, or build one above.")
        return None
    st.subheader("Datasets")
    chosen = st.selectbox("Dataset", [r.name for r in rows], key="ft_dataset")
    row = get_dataset(db, chosen)
    lengths = row.details.get("token_lengths", {})
    a, b, c, d = st.columns(4)
    a.metric("Train", row.train_count)
    b.metric("Validation", row.validation_count)
    c.metric("Tokens p50 / max", f"{lengths.get('p50', '?')} / {lengths.get('max', '?')}")
    d.metric("Possible leaks", len(row.details.get("leakage", [])))
    examples = read_split(row, "train")
    with st.expander("Preview and token lengths"):
        st.dataframe(example_rows(examples), hide_index=True)
        with reported_errors():
            tokenizer = base_tokenizer(lengths.get("base", "smollm2"))
            st.plotly_chart(length_histogram(token_lengths(examples, tokenizer), st.session_state.get("ft_max_len")),
                            width="stretch")
    leaks = row.details.get("leakage", [])
    if leaks:
        st.warning(f"{len(leaks)} training example(s) nearly repeat an evaluation question: a model trained on "
                   "them would score well on that question for the wrong reason.")
        st.dataframe(leaks, hide_index=True)
    return chosen


def train_section(db, dataset: str) -> None:
    st.subheader("Train a LoRA adapter")
    with reported_errors():
        config = training_form(dataset, "dpo" if get_dataset(db, dataset).source == PREFERENCES else "sft")
        planned = estimate(db, config, get_dataset(db, dataset))
        st.caption(f"{estimate_line(planned).capitalize()} ({planned.basis}).")
        blocked = missing_role(Role.ADMIN, "Launching training")
        if blocked:
            st.caption(blocked)
        if st.button("Launch training", type="primary", key="ft_launch", disabled=bool(blocked)):
            job = submit_training(db, config, acting_user())
            st.session_state["ft_job"] = job.id
            flash(f"Job {job.id} {job.status}: {estimate_line(planned)}.")
        sweep_form(db, config)


def sweep_form(db, template) -> None:
    blocked = missing_role(Role.ADMIN, "Starting a sweep")
    with st.expander("Sweep learning rate x rank with these settings"):
        st.caption("One adapter per grid point, named NAME-lrX-rY, with alpha twice the rank. They queue and train "
                   "RAGTUNE_MAX_JOBS at a time; with an eval set, each adapter is evaluated once trained.")
        name = st.text_input("Sweep name", f"{template.dataset}-sweep", key="ft_sweep_name")
        left, right = st.columns(2)
        rates = left.text_input("Learning rates", ", ".join(map(rate_text, SEED_LEARNING_RATES)), key="ft_sweep_lrs")
        ranks = right.text_input("Ranks", ", ".join(map(str, SEED_RANKS)), key="ft_sweep_ranks")
        eval_set = left.selectbox("Evaluate on", [None, *(s.name for s in list_eval_sets(db))], key="ft_sweep_set",
                                  format_func=lambda set_name: set_name or "no eval set: the best by validation loss")
        metric = right.selectbox("Metric", usable_metrics(db, eval_set) if eval_set else [], key="ft_sweep_metric",
                                 disabled=not eval_set)
        if st.button("Start the sweep", key="ft_sweep_start", disabled=bool(blocked), help=blocked):
            plan = SweepPlan(name, template, parse_grid(rates, float, "Learning rates"),
                             parse_grid(ranks, int, "Ranks"), eval_set, metric)
            jobs = submit_sweep(db, plan, acting_user())
            flash(f"Sweep {plan.name}: {len(jobs)} training job(s) queued; follow them under Sweeps below.")


@st.fragment(run_every=LIVE_REFRESH_S)
def sweeps_section(db) -> None:
    """Each member's training, eval and numbers, the best marked; re-read as jobs finish."""
    with reported_errors():
        tables = sweep_tables(db)
        if not tables:
            return
        st.subheader("Sweeps")
        chosen = st.selectbox("Sweep", [table.name for table in tables], key="ft_sweep_select")
        table = next(table for table in tables if table.name == chosen)
        st.dataframe(sweep_rows(table), hide_index=True)
        st.caption(best_line(table))


@st.fragment(run_every=LIVE_REFRESH_S)
def jobs_section(db) -> None:
    """Re-read every few seconds: reconcile, start queued jobs, redraw the curves."""
    with reported_errors():
        scheduler.refresh(db)
        jobs = queue.list_jobs(db, kind=TrainingJob.name, limit=50)
        if not jobs:
            st.caption("No training job yet.")
            return
        st.subheader("Training jobs")
        ids = [job.id for job in jobs]
        default = st.session_state.get("ft_job", ids[0])
        chosen = st.selectbox("Job", ids, index=ids.index(default) if default in ids else 0,
                              format_func=lambda i: next(training_job_label(j) for j in jobs if j.id == i),
                              key="ft_job_select")
        job = queue.get_job(db, chosen)
        job_panel(db, job)
        cancel, resume = st.columns(2)
        if job.status in queue.ACTIVE and cancel.button("Cancel", key=f"ft_cancel_{job.id}"):
            scheduler.cancel(db, job.id)
            st.rerun(scope="fragment")
        if job.status in queue.RESUMABLE and resume.button("Resume from the last checkpoint",
                                                           key=f"ft_resume_{job.id}"):
            scheduler.resume(db, job.id)
            st.rerun(scope="fragment")
        st.dataframe(training_job_rows(jobs), hide_index=True)


def adapters_section(db) -> None:
    adapters = list_adapters(db)
    if not adapters:
        return
    st.subheader("Adapters")
    st.dataframe(adapter_rows(adapters), hide_index=True)
    chosen = st.selectbox("Adapter", [a.name for a in adapters], key="ft_adapter")
    try_it, merge = st.columns(2)
    if try_it.button("Try in Playground", key="ft_try", type="primary"):
        st.session_state["playground_systems"] = ["local", f"local?adapter={chosen}"]
        st.switch_page("pages/playground.py")
    blocked = missing_role(Role.ADMIN, "Merging an adapter")
    if merge.button("Merge into the base model", key="ft_merge", disabled=bool(blocked),
                    help=blocked or "a full model folder that `local:PATH` loads without peft"):
        with reported_errors():
            job = submit_merge(db, chosen, actor=acting_user())
            flash(f"Merging {chosen} in the background (job {job.id}): follow it below.")
    live_jobs(db, MergeJob.name, "Merging", merge_outcome, "Merge again")


def merge_outcome(job) -> None:
    st.caption(f"Merged {job.result['adapter']} into {job.result['merged_path']}: ask it as "
               f"`local:{job.result['merged_path']}`.")


ensure_router()
st.title("Fine-tune")
st.caption("Teach a model a behaviour (format, tone, terminology) with a LoRA adapter. Training runs as a "
           "background job: close the browser, come back, the job and its curves are still here.")
show_flash()
db = database()
if db is not None:
    with reported_errors():
        build_section(db)
        live_jobs(db, KbDatasetJob.name, "Writing datasets", kb_dataset_outcome, "Write it again")
        dataset = dataset_section(db)
        if dataset:
            train_section(db, dataset)
    jobs_section(db)
    sweeps_section(db)
    with reported_errors():
        adapters_section(db)
