"""The evidence-backed decision report: the checklist's verdict beside the runs that test it.

Built from a decision session and the eval runs linked to it (started from its proposed
experiment). It holds the verdict and reasons, the experiment, the comparison table of the
variants (the seeds' headline table, on the team's own runs), significance statements for the
comparisons the experiment names, a break-even chart, and a conclusion: the evidence confirms,
contradicts, or cannot yet decide the verdict.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import plotly.graph_objects as go
from sqlmodel import col, select

from core.checklist.sessions import get_session
from core.checklist.variants import VARIANTS, variant_labels, variant_with
from core.evaluation.catalog import HEADLINE_METRICS
from core.evaluation.views import format_estimate
from core.history.compare import BETTER, WORSE, MetricComparison, compare_runs, holm_note, with_holm
from core.llm.registry import BACKENDS
from core.llm.spec import parse_spec
from core.store import Database
from core.store.tables import Adapter, DecisionSession, EvalRun, KnowledgeBase

# The comparisons that decide each verdict: (the variant expected to win, the one it must beat).
DECIDING_PAIRS = {
    "rag": [("rag", "base")],
    "start_with_rag": [("rag", "base")],
    "fine_tune": [("fine_tuned", "base"), ("fine_tuned", "rag")],
    "both": [("rag_fine_tuned", "rag"), ("rag_fine_tuned", "fine_tuned")],
}
CONFIRMS, CONTRADICTS, UNDECIDED = "confirms", "contradicts", "cannot yet decide"


@dataclass(frozen=True)
class Variant:
    key: str  # base, rag, fine_tuned, rag_fine_tuned, or e.g. "anthropic+rag"
    label: str
    run: EvalRun
    system: str
    stats: dict[str, Any]


@dataclass
class DecisionReport:
    session: DecisionSession
    runs: list[EvalRun]
    variants: list[Variant]
    table: list[dict[str, Any]]
    statements: list[str]
    tests: int  # the deciding comparisons the statements' Holm correction counted
    conclusion: str
    conclusion_reason: str
    figures: list[go.Figure] = field(default_factory=list)


def variant_of(system: str) -> tuple[str, str]:
    """(key, label) of the variant a system spec is: base, RAG, fine-tuned, both, or an API model (+ RAG)."""
    spec = parse_spec(system)
    if not BACKENDS[spec.backend].runs_locally:
        name = BACKENDS[spec.backend].label
        return f"{spec.backend}{'+rag' if spec.kb else ''}", f"{name}{' + RAG' if spec.kb else ''}"
    variant = variant_with(knowledge_base=bool(spec.kb), adapter="adapter" in spec.options)
    return variant.key, variant.label


def build_report(db: Database, session_id: int) -> DecisionReport:
    session = get_session(db, session_id)
    with db.session(immediate=False) as s:
        runs = list(s.exec(select(EvalRun).where(EvalRun.decision_session_id == session_id,
                                                 col(EvalRun.finished_at).is_not(None))
                           .order_by(EvalRun.created_at)).all())
    variants = latest_variants(runs)
    statements, outcomes, tests = _deciding_comparisons(db, session.verdict or {}, variants)
    conclusion, reason = _conclusion(runs, outcomes)
    report = DecisionReport(session, runs, variants, variant_table(db, variants), statements, tests, conclusion,
                            reason)
    if variants:
        report.figures = [break_even_chart(db, variants)]
    return report


def finished_runs(db: Database, eval_set: str) -> list[EvalRun]:
    with db.session(immediate=False) as session:
        return list(session.exec(select(EvalRun).where(EvalRun.eval_set == eval_set,
                                                       col(EvalRun.finished_at).is_not(None))
                                 .order_by(EvalRun.created_at)).all())


def latest_variants(runs: list[EvalRun]) -> list[Variant]:
    """Each variant's latest run (a later run of a variant replaces an earlier one)."""
    latest: dict[str, Variant] = {}
    for run in runs:
        for system, stats in run.summary.items():
            key, label = variant_of(system)
            latest[key] = Variant(key, label, run, system, stats)
    order = list(VARIANTS)
    return sorted(latest.values(), key=lambda v: order.index(v.key) if v.key in order else len(order))


def variant_table(db: Database, variants: list[Variant]) -> list[dict[str, Any]]:
    """The seeds' headline table on the team's runs: one column per variant."""
    if not variants:
        return []
    rows = []
    for metric in HEADLINE_METRICS:
        if any(metric in v.stats["metrics"] for v in variants):
            rows.append({"": metric, **{v.label: format_estimate(v.stats["metrics"][metric])
                                         if metric in v.stats["metrics"] else "-" for v in variants}})
    rows.append({"": "p99 latency (s)", **{v.label: _seconds(v.stats.get("latency_ms", {}).get("p99")) for v in variants}})
    rows.append({"": "cost per 1k queries ($)", **{v.label: _money(v.stats.get("cost_per_1k_usd")) for v in variants}})
    knowledge, adapters = _resources(db, variants)
    rows.append({"": "index size on disk (MB)", **{v.label: _mb(knowledge.get(v.system, {}).get("size_bytes"))
                                                    for v in variants}})
    rows.append({"": "adapter size (MB)", **{v.label: _mb(adapters.get(v.system, {}).get("size_bytes"))
                                             for v in variants}})
    rows.append({"": "training wall time (min) / cost ($)", **{
        v.label: (f"{adapters[v.system]['train_seconds'] / 60:.1f} / {adapters[v.system]['cost_usd']:.4f}"
                  if v.system in adapters else "-") for v in variants}})
    rows.append({"": "time to update facts (s): re-index / retrain", **{v.label: _update_seconds(
        knowledge.get(v.system), adapters.get(v.system)) for v in variants}})
    return rows


def _resources(db: Database, variants: list[Variant]) -> tuple[dict[str, dict], dict[str, dict]]:
    """Per system: its knowledge base's and its adapter's stored sizes and times."""
    knowledge, adapters = {}, {}
    with db.session(immediate=False) as session:
        for variant in variants:
            spec = parse_spec(variant.system)
            if spec.kb:
                row = session.exec(select(KnowledgeBase).where(KnowledgeBase.name == spec.kb)).first()
                if row:
                    knowledge[variant.system] = {"size_bytes": row.size_bytes, "index_seconds": row.index_seconds}
            if "adapter" in spec.options:
                row = session.exec(select(Adapter).where(Adapter.name == spec.options["adapter"])).first()
                if row:
                    adapters[variant.system] = {"size_bytes": row.size_bytes, "train_seconds": row.train_seconds,
                                                "cost_usd": row.cost_usd}
    return knowledge, adapters


def _update_seconds(knowledge: Optional[dict], adapter: Optional[dict]) -> str:
    parts = [f"{knowledge['index_seconds']:.0f}" if knowledge else None,
             f"{adapter['train_seconds']:.0f}" if adapter else None]
    return " / ".join(part or "-" for part in parts) if any(parts) else "-"


def _deciding_comparisons(db: Database, verdict: dict,
                          variants: list[Variant]) -> tuple[list[str], list[Optional[bool]], int]:
    """A statement per deciding pair, whether the expected winner won by the one rule (None: no verdict, or not
    measurable), and how many tests the Holm correction counted (the measured pairs, together)."""
    by_key = {v.key: v for v in variants}
    pairs = [(f"{VARIANTS[winner].label} against {VARIANTS[other].label}",
              _pair_metric(db, by_key.get(other), by_key.get(winner)))
             for winner, other in DECIDING_PAIRS.get(verdict.get("recommendation", ""), [])]
    adjusted = iter(with_holm([found for _, found in pairs if isinstance(found, MetricComparison)]))
    statements, outcomes = [], []
    for title, found in pairs:
        metric = next(adjusted) if isinstance(found, MetricComparison) else None
        statements.append(f"{title}: {found}" if metric is None else _statement(title, metric))
        outcomes.append(None if metric is None else {BETTER: True, WORSE: False}.get(metric.verdict))
    return statements, outcomes, sum(isinstance(found, MetricComparison) for _, found in pairs)


def _pair_metric(db: Database, a: Optional[Variant], b: Optional[Variant]) -> Union[MetricComparison, str]:
    """B against A on the first headline metric both were scored on, or why there is none."""
    if a is None or b is None or a.run.id != b.run.id:
        return "not measured (no run asked both on the same questions)."
    by_name = {m.metric: m for m in compare_runs(db, a.run.id, b.run.id, a.system, b.system).metrics}
    return next((by_name[name] for name in HEADLINE_METRICS if name in by_name),
                "no metric scored both on the same questions.")


def _statement(title: str, metric: MetricComparison) -> str:
    d = metric.difference
    return (f"{title} on {metric.metric} ({metric.questions} questions): {metric.mean_b:.3f} against "
            f"{metric.mean_a:.3f}, difference {d.mean:+.3f} [95% CI {d.low:+.3f}, {d.high:+.3f}]; "
            f"{metric.test.name} p = {metric.test.p_value:.3f}, Holm p = {metric.p_value:.3f}: {metric.verdict}.")


def _conclusion(runs: list[EvalRun], outcomes: list[Optional[bool]]) -> tuple[str, str]:
    if not runs:
        return UNDECIDED, "No eval run answers this session yet: start one from its experiment on the Evaluate page."
    if any(outcome is False for outcome in outcomes):
        return CONTRADICTS, "A variant the verdict favours lost significantly to the one it should beat."
    if outcomes and all(outcome is True for outcome in outcomes):
        return CONFIRMS, "Every comparison the experiment names went the verdict's way, significantly."
    return UNDECIDED, "Some comparisons are not significant or not measured yet: more questions or runs are needed."


def break_even_chart(db: Database, variants: list[Variant], max_queries: int = 1_000_000) -> go.Figure:
    """Cumulative cost against query volume: training cost up front, the per-query cost after."""
    _, adapters = _resources(db, variants)
    volumes = [0, max_queries]
    figure = go.Figure()
    lines = {}
    for v in variants:
        upfront = adapters.get(v.system, {}).get("cost_usd", 0.0)
        per_query = (v.stats.get("cost_per_1k_usd") or 0.0) / 1000
        lines[v.label] = (upfront, per_query)
        figure.add_scatter(x=volumes, y=[upfront + per_query * q for q in volumes], mode="lines", name=v.label)
    for crossing, label in _crossings(lines, max_queries):
        figure.add_vline(x=crossing, line_dash="dot", annotation_text=label)
    figure.update_layout(title="Break-even: cumulative cost against queries", xaxis_title="queries",
                         yaxis_title="US dollars", height=360, margin=dict(l=10, r=10, t=40, b=10))
    return figure


def _crossings(lines: dict[str, tuple[float, float]], max_queries: int) -> list[tuple[float, str]]:
    found = []
    names = list(lines)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            (u1, p1), (u2, p2) = lines[first], lines[second]
            if p1 != p2:
                q = (u2 - u1) / (p1 - p2)
                if 0 < q <= max_queries:
                    found.append((q, f"{first} = {second} at {q:,.0f} queries"))
    return found


def report_markdown(report: DecisionReport, link: str = "", sections: Sequence[str] = ()) -> str:
    """The report as markdown; `sections` (markdown, e.g. the diagnosis of its runs) follow the comparison."""
    verdict = report.session.verdict or {}
    plan = verdict.get("experiment", {})
    lines = [f"# Decision report: {report.session.name}", "",
             *([f"Session: {link}", ""] if link else []),
             f"## Verdict: {verdict.get('label', 'none yet')}", "",
             *[f"- {reason}" for reason in verdict.get("reasons", [])], "",
             "## The experiment it proposed", "",
             f"Compare: {variant_labels(plan.get('variants', []))}.", "",
             f"Eval set: {plan.get('eval_set', '-')}", "", f"Confirmed if: {plan.get('confirms_if', '-')}", "",
             f"## Evidence: {report.conclusion}", "", report.conclusion_reason, "",
             *[f"- {statement}" for statement in report.statements], "",
             *([holm_note(report.tests), ""] if report.tests else []),
             "## Runs", "",
             *([f"- run {r.id}: {r.eval_set}, {', '.join(r.systems)} ({r.created_at:%Y-%m-%d %H:%M}, "
                f"revision {r.git_revision or '?'})" for r in report.runs] or ["No run yet."]), ""]
    if report.table:
        columns = list(report.table[0])
        lines += ["## Comparison", "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in report.table]
    return "\n".join(lines) + "\n" + "".join(f"\n{section}" for section in sections)


def report_html(report: DecisionReport, link: str = "", sections: Sequence[str] = ()) -> str:
    """One self-contained file: the markdown's content as HTML, and the charts with plotly inlined."""
    body = _markdown_to_html(report_markdown(report, link, sections))
    charts = "".join(figure.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False)
                     for i, figure in enumerate(report.figures))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(report.session.name)}</title>"
            "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px}</style></head>"
            f"<body>{body}{charts}</body></html>")


def report_csv(report: DecisionReport) -> str:
    if not report.table:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(report.table[0]))
    writer.writeheader()
    writer.writerows(report.table)
    return out.getvalue()


def _markdown_to_html(markdown: str) -> str:
    """The few constructs the report's markdown uses: headings, bullets, tables, paragraphs."""
    parts, table = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [html.escape(cell.strip()) for cell in line.strip("|").split("|")]
            if not all(set(cell) <= {"-", " "} for cell in cells):
                table.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
            continue
        if table:
            parts.append("<table>" + "".join(table) + "</table>")
            table = []
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            parts.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("- "):
            parts.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.strip():
            parts.append(f"<p>{html.escape(line)}</p>")
    if table:
        parts.append("<table>" + "".join(table) + "</table>")
    return "\n".join(parts)


def _seconds(ms: Optional[float]) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f}"


def _money(usd: Optional[float]) -> str:
    return "-" if usd is None else f"{usd:.4f}"


def _mb(size: Optional[int]) -> str:
    return "-" if size is None else f"{size / 1e6:.1f}"
