"""Pure builders from results to plotly figures; the pages only display them."""

from __future__ import annotations

import pandas as pd
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


LOSS_COLOURS = {"train_loss": FINE_TUNE_COLOUR, "validation_loss": RAG_COLOUR}


def loss_curve_figure(frame: pd.DataFrame, title: str = "Loss") -> go.Figure:
    """Train and validation loss by step, from long-format metrics (step, name, value)."""
    figure = go.Figure()
    for name, colour in LOSS_COLOURS.items():
        points = frame[frame["name"] == name].sort_values("step")
        if not points.empty:
            figure.add_trace(go.Scatter(x=points["step"], y=points["value"], name=name.replace("_", " "),
                                        mode="lines+markers" if name == "validation_loss" else "lines",
                                        line=dict(color=colour)))
    figure.update_layout(title=title, xaxis_title="step", yaxis_title="loss", height=320,
                         margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h"))
    return figure
