"""Widgets of the Fine-tune page: the training form, a job's live panel, adapters.
Layout only; `core.finetune` and `core.jobs` decide."""

from __future__ import annotations

import streamlit as st

from core.finetune.config import DEFAULT_LEARNING_RATES, PRECISIONS, SCHEDULES, TrainingConfig
from core.finetune.monitor import curves
from core.jobs import queue
from core.jobs.runners import log_tail, runner_for
from core.reports import loss_curve_figure
from core.store.tables import Job

_DEFAULTS = TrainingConfig(dataset="-", adapter_name="-")
LIVE_REFRESH_S = 2


def training_form(dataset: str, method: str = "sft") -> TrainingConfig:
    """The config widgets, live (the estimate below them follows every change); the
    validated config, or `InvalidInputError` naming the fields to fix. The method follows the
    dataset: preference pairs train with DPO, chats with supervised fine-tuning."""
    with st.container(border=True):
        name = st.text_input("Adapter name", f"{dataset}-lora", key="ft_adapter_name")
        beta = _DEFAULTS.beta
        if method == "dpo":
            st.caption("Preference pairs: trained with DPO (trl's DPOTrainer), the base model with the adapter "
                       "switched off as the reference.")
            beta = st.number_input("DPO beta (higher: the adapter stays closer to the base)", 0.01, 10.0,
                                   _DEFAULTS.beta, 0.05, key="ft_beta")
        left, middle, right = st.columns(3)
        base = left.text_input("Base model", _DEFAULTS.base_model, key="ft_base",
                               help="`smollm2` (the packaged default) or a local model folder")
        max_steps = middle.number_input("Max steps (0: use epochs)", 0, 100_000, 0, key="ft_max_steps")
        epochs = right.number_input("Epochs", 0.0, 100.0, _DEFAULTS.epochs, 0.5, key="ft_epochs")
        lr = left.number_input("Learning rate", 1e-6, 0.5, DEFAULT_LEARNING_RATES[method], format="%.5f",
                               key=f"ft_lr_{method}")
        schedule = middle.selectbox("Schedule", SCHEDULES, key="ft_schedule")
        batch = right.number_input("Batch size", 1, 256, _DEFAULTS.batch_size, key="ft_batch")
        max_len = left.number_input("Max sequence length", 16, 8192, _DEFAULTS.max_seq_length, 16, key="ft_max_len")
        eval_every = middle.number_input("Validate every N steps", 1, 10_000, _DEFAULTS.eval_every, key="ft_eval_every")
        checkpoint_every = right.number_input("Checkpoint every N steps", 1, 10_000, _DEFAULTS.checkpoint_every,
                                              key="ft_ckpt_every")
        with st.expander("LoRA, QLoRA and precision"):
            a, b, c = st.columns(3)
            r = a.number_input("LoRA r", 1, 512, _DEFAULTS.lora_r, key="ft_r")
            alpha = b.number_input("LoRA alpha", 1, 1024, _DEFAULTS.lora_alpha, key="ft_alpha")
            dropout = c.number_input("LoRA dropout", 0.0, 0.9, _DEFAULTS.lora_dropout, 0.05, key="ft_dropout")
            targets = st.text_input("Target modules", ", ".join(_DEFAULTS.target_modules), key="ft_targets")
            qlora = a.checkbox("QLoRA (4-bit NF4 base)", key="ft_qlora",
                               help="bitsandbytes; on CUDA or, slower, on the CPU")
            precision = b.selectbox("Precision", PRECISIONS, key="ft_precision",
                                    help="auto: bf16 where the hardware computes it natively")
            seed = c.number_input("Seed", 0, 2**31 - 1, 0, key="ft_seed")
            accumulation = a.number_input("Gradient accumulation", 1, 512, 1, key="ft_accum")
    return TrainingConfig(
        dataset=dataset, adapter_name=name, method=method, beta=float(beta), base_model=base,
        max_steps=int(max_steps), epochs=float(epochs),
        learning_rate=float(lr), lr_schedule=schedule, batch_size=int(batch), max_seq_length=int(max_len),
        eval_every=int(eval_every), checkpoint_every=int(checkpoint_every), lora_r=int(r), lora_alpha=int(alpha),
        lora_dropout=float(dropout), target_modules=tuple(t.strip() for t in targets.split(",") if t.strip()),
        qlora=qlora, precision=precision, seed=int(seed), gradient_accumulation=int(accumulation))


def job_panel(db, job: Job) -> None:
    """One job: status, progress, curves, throughput and the log's tail."""
    st.markdown(f"**Job {job.id}** · {job.title} · `{job.status}`")
    if job.status in queue.ACTIVE:
        st.progress(job.progress, text=job.progress_text or job.status)
    if job.error:
        (st.warning if job.status in (queue.CANCELLED, queue.INTERRUPTED) else st.error)(job.error)
    frame = curves(db, [job.id])
    if frame.empty:
        st.caption("No metrics yet: the worker is loading the model.")
    else:
        st.plotly_chart(loss_curve_figure(frame, f"Job {job.id}: loss"), width="stretch", key=f"ft_curve_{job.id}")
        latest = queue.latest_metrics(db, job.id)
        columns = st.columns(4)
        for column, (label, name, fmt) in zip(columns, METRIC_LABELS):
            if name in latest:
                column.metric(label, fmt.format(latest[name]))
    if job.result.get("adapter"):
        st.success(f"Adapter `{job.result['adapter']}` is ready: try it in the Playground below.")
    with st.expander("Log and command"):
        st.caption(f"Runs on {runner_for(job).where(job)}." if job.started_at else "Not started yet.")
        st.code(" ".join(job.command) or "(not started)", language="bash")
        st.code(log_tail(job, 30) or "(no log yet)", language=None)


METRIC_LABELS = (("Train loss", "train_loss", "{:.4f}"), ("Validation loss", "validation_loss", "{:.4f}"),
                 ("Tokens/s", "tokens_per_s", "{:.0f}"), ("Learning rate", "learning_rate", "{:.2e}"))

