import pytest

from core.errors import InvalidInputError
from core.llm.pricing import API_PRICES, api_cost, api_price, hourly_cost


def test_dated_model_ids_use_their_family_price():
    assert api_price("claude-sonnet-4-5-20250929") == API_PRICES["claude-sonnet-4-5"]
    assert api_price("gpt-4.1-mini-2025-04-14") == API_PRICES["gpt-4.1-mini"]
    assert api_price("gpt-4.1") == API_PRICES["gpt-4.1"]
    assert api_price("claude-sonnet-5") is None


def test_api_cost_is_per_million_tokens():
    cost, warnings = api_cost("claude-haiku-4-5", 2_000_000, 1_000_000, seconds=3.0)
    assert cost == pytest.approx(2 * 1.00 + 1 * 5.00)
    assert warnings == ()


def test_self_hosted_models_are_costed_by_the_hour(monkeypatch):
    monkeypatch.setenv("RAGTUNE_LOCAL_USD_PER_HOUR", "7.2")
    assert api_cost("my-llama", 10, 10, seconds=10.0, self_hosted=True) == (pytest.approx(0.02), ())
    assert hourly_cost(3600) == pytest.approx(7.2)


def test_the_default_local_rate_applies_without_the_variable():
    assert hourly_cost(3600) == pytest.approx(1.0)


@pytest.mark.parametrize("raw", ["cheap", "-1"])
def test_a_bad_local_rate_is_reported(monkeypatch, raw):
    monkeypatch.setenv("RAGTUNE_LOCAL_USD_PER_HOUR", raw)
    with pytest.raises(InvalidInputError, match="RAGTUNE_LOCAL_USD_PER_HOUR"):
        hourly_cost(1.0)
