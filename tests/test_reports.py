from core.checklist.scoring import FactorTally
from core.reports import factor_tally_figure


def test_factor_figure_shows_each_column_and_the_leaning():
    figure = factor_tally_figure(FactorTally(rag=4, fine_tune=1, neutral=1, unanswered=0))
    assert list(figure.data[0].x) == [4, 1, 1]
    assert "RAG only" in figure.layout.title.text
    even = factor_tally_figure(FactorTally(rag=2, fine_tune=2, neutral=0, unanswered=2))
    assert even.layout.title.text.endswith("even")
