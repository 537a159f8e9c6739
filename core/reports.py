"""Pure builders from results to plotly figures; the pages only display them."""

from __future__ import annotations

import plotly.graph_objects as go

from core.checklist.scoring import FactorTally

RAG_COLOUR, FINE_TUNE_COLOUR, NEUTRAL_COLOUR = "#2e86de", "#e67e22", "#95a5a6"


def factor_tally_figure(tally: FactorTally) -> go.Figure:
    """The six-factor leaning: check marks per column, as horizontal bars."""
    labels = ["RAG", "Fine-tuning", "Neutral"]
    counts = [tally.rag, tally.fine_tune, tally.neutral]
    figure = go.Figure(go.Bar(
        x=counts, y=labels, orientation="h", text=counts, textposition="auto",
        marker_color=[RAG_COLOUR, FINE_TUNE_COLOUR, NEUTRAL_COLOUR],
    ))
    leaning = tally.leaning.label if tally.leaning else "even"
    figure.update_layout(
        title=f"Six-factor table leans: {leaning}",
        xaxis=dict(range=[0, 6], dtick=1, title="factors"),
        yaxis=dict(autorange="reversed"),
        height=220, margin=dict(l=10, r=10, t=40, b=10),
    )
    return figure
