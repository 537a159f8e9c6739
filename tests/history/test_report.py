"""The decision report: a session's verdict beside the runs that test it, with and without runs."""

from __future__ import annotations

import pytest

from core.access import LOCAL_ADMIN
from core.checklist.sessions import create_session
from core.checklist.variants import VARIANTS
from core.cli import main
from core.evaluation.experiments import ProposedExperiment, experiment_systems
from core.history.compare import holm_note
from core.history.report import CONFIRMS, UNDECIDED, build_report, report_markdown, variant_of
from tests.history.runs_fixtures import eval_set, stored_systems_run

BASE, RAG = "local:smollm2", "local:smollm2?kb=docs"


def test_variants_are_named_from_their_specs():
    assert variant_of("local") == ("base", "Base model")
    assert variant_of("local?kb=docs&adapter=a") == ("rag_fine_tuned", "RAG + fine-tuned")
    assert variant_of("anthropic:claude-sonnet-4-5?kb=docs") == ("anthropic+rag", "Claude + RAG")


@pytest.mark.parametrize("key", list(VARIANTS))
def test_the_spec_an_experiment_builds_for_a_variant_is_named_back_as_it(key):
    [system] = experiment_systems(ProposedExperiment(1, "s", "One", (key,), "", ""), "docs", "house")
    assert variant_of(system) == (key, VARIANTS[key].label)


def test_a_session_without_runs_cannot_yet_decide(db, capsys):
    session = create_session(db, "Support bot", actor=LOCAL_ADMIN)  # verdict: start with RAG
    report = build_report(db, session.id)
    assert report.conclusion == UNDECIDED and "No eval run answers this session" in report.conclusion_reason
    assert main(["report", str(session.id)]) == 0
    out = capsys.readouterr().out
    assert "# Decision report: Support bot" in out and "Confirmed if:" in out and "No run yet." in out


def test_runs_that_back_the_verdict_confirm_it_and_export(db, tmp_path):
    session = create_session(db, "Support bot", actor=LOCAL_ADMIN)
    name = eval_set(db, questions=30)
    stored_systems_run(db, name, {BASE: {"keyword_presence": [1.0] * 5 + [0.0] * 25},
                                  RAG: {"keyword_presence": [1.0] * 24 + [0.0] * 6}}, session_id=session.id)
    stored_systems_run(db, name, {BASE: {"keyword_presence": [1.0] * 30}})  # not linked: not in the report
    report = build_report(db, session.id)
    assert report.conclusion == CONFIRMS and len(report.runs) == 1
    assert [v.key for v in report.variants] == ["base", "rag"]
    assert report.table[0][""] == "keyword_presence" and report.table[0]["RAG"].startswith("0.800 [")
    assert "RAG against Base model on keyword_presence (30 questions)" in report.statements[0]
    assert report.statements[0].endswith("Holm p = 0.000: B better.") and report.tests == 1
    assert "## Evidence: confirms" in report_markdown(report) and holm_note(1) in report_markdown(report)

    html, csv = tmp_path / "report.html", tmp_path / "report.csv"
    assert main(["report", str(session.id), "--html", str(html), "--csv", str(csv)]) == 0
    page = html.read_text()
    assert "<h1>Decision report: Support bot</h1>" in page and "Break-even" in page and "decide?session=" in page
    assert "<script src" not in page and len(page) > 1_000_000  # self-contained: plotly.js is inlined
    assert csv.read_text().splitlines()[0] == ",Base model,RAG"
