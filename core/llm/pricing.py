"""What an answer cost, in USD: the one editable price table.

API models are priced per token (list prices, USD per million tokens; edit
`API_PRICES` when a provider changes them). Models we run ourselves (the local
backend, a self-hosted OpenAI-compatible server) are priced by the hour of the
machine that runs them: `RAGTUNE_LOCAL_USD_PER_HOUR` (default 1.00, about an
on-demand cloud instance able to serve a small model) times wall time.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Optional

from core.errors import InvalidInputError
from core.settings import ENV_PREFIX

LOCAL_RATE_ENV = f"{ENV_PREFIX}LOCAL_USD_PER_HOUR"
DEFAULT_LOCAL_USD_PER_HOUR = 1.00


@dataclass(frozen=True)
class Price:
    input_per_million: float
    output_per_million: float


API_PRICES: dict[str, Price] = {
    "claude-opus-4-5": Price(5.00, 25.00),
    "claude-opus-4-1": Price(15.00, 75.00),
    "claude-sonnet-4-5": Price(3.00, 15.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-haiku-4-5": Price(1.00, 5.00),
    "claude-3-5-haiku": Price(0.80, 4.00),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
}


def api_price(model: str) -> Optional[Price]:
    """The price of `model`; dated ids ("claude-sonnet-4-5-20250929") match their family."""
    matches = [name for name in API_PRICES if model == name or model.startswith(name + "-")]
    return API_PRICES[max(matches, key=len)] if matches else None


def token_cost(price: Price, input_tokens: int, output_tokens: int) -> float:
    return (input_tokens * price.input_per_million + output_tokens * price.output_per_million) / 1e6


def local_usd_per_hour() -> float:
    raw = os.environ.get(LOCAL_RATE_ENV, "")
    if not raw:
        return DEFAULT_LOCAL_USD_PER_HOUR
    try:
        rate = float(raw)
    except ValueError:
        rate = -1.0
    if not math.isfinite(rate) or rate < 0:
        raise InvalidInputError(f"{LOCAL_RATE_ENV}={raw!r} is not a price: set it to USD per hour, e.g. 1.50.")
    return rate


def hourly_cost(seconds: float) -> float:
    return local_usd_per_hour() * seconds / 3600


def api_cost(model: str, input_tokens: int, output_tokens: int, seconds: float,
             self_hosted: bool = False) -> tuple[float, tuple[str, ...]]:
    """Cost by the price table, with a warning when the model is not in it. A
    `self_hosted` model missing from it (one a team serves through an
    OpenAI-compatible server) is costed by the hour instead of as free."""
    price = api_price(model)
    if price is not None:
        return token_cost(price, input_tokens, output_tokens), ()
    if self_hosted:
        return hourly_cost(seconds), ()
    return 0.0, (f"No price for {model!r} in core/llm/pricing.py API_PRICES: its cost shows as 0.",)
