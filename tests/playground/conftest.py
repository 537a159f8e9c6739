"""Tests here ask the tiny model."""

from tests.tiny_model import fresh_model_cache, tiny_model_dir  # noqa: F401  (fixtures)
