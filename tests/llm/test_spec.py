import pytest

from core.errors import InvalidInputError
from core.llm.spec import SystemSpec, parse_spec


@pytest.mark.parametrize("text, expected", [
    ("local", SystemSpec("local", "smollm2")),
    ("  LOCAL:smollm2 ", SystemSpec("local", "smollm2")),
    ("local:models/my-model", SystemSpec("local", "models/my-model")),
    ("local:smollm2?adapter=models/adapters/x&dtype=bfloat16",
     SystemSpec("local", "smollm2", {"adapter": "models/adapters/x", "dtype": "bfloat16"})),
    ("anthropic", SystemSpec("anthropic", "claude-sonnet-4-5")),
    ("anthropic:claude-haiku-4-5?max_retries=5&timeout=30",
     SystemSpec("anthropic", "claude-haiku-4-5", {"max_retries": "5", "timeout": "30"})),
    ("openai:llama3:8b?base_url=http://127.0.0.1:11434/v1",
     SystemSpec("openai", "llama3:8b", {"base_url": "http://127.0.0.1:11434/v1"})),
    ("local?kb=handbook", SystemSpec("local", "smollm2", kb="handbook")),
    ("anthropic:claude-sonnet-4-5?kb=docs", SystemSpec("anthropic", "claude-sonnet-4-5", kb="docs")),
])
def test_specs_parse(text, expected):
    assert parse_spec(text) == expected


@pytest.mark.parametrize("text", [
    "local", "local:smollm2?adapter=models/adapters/x&dtype=bfloat16&kb=handbook",
    "openai:llama3:8b?base_url=http://127.0.0.1:11434/v1", "anthropic:claude-sonnet-4-5?kb=my%20docs",
])
def test_the_canonical_text_parses_back_to_the_same_spec(text):
    spec = parse_spec(text)
    assert parse_spec(spec.text) == spec
    assert str(spec) == spec.text


@pytest.mark.parametrize("text, problem", [
    ("", "Unknown backend '(empty)'"),
    ("gemini:pro", "Unknown backend 'gemini'"),
    ("local?temperature=1", "Unknown option 'temperature' for local"),
    ("local?dtype=int3", "dtype='int3' is not one of auto"),
    ("local?device=tpu", "device='tpu' is not one of"),
    ("local?adapter=", "has no value"),
    ("anthropic?timeout=soon", "timeout='soon' must be a positive number"),
    ("local?batch_size=0", "batch_size='0' must be a positive number"),
    ("openai", "names no model"),
    ("local?dtype", "not key=value pairs"),
])
def test_bad_specs_say_what_is_wrong_and_list_the_valid_forms(text, problem):
    with pytest.raises(InvalidInputError) as raised:
        parse_spec(text)
    assert problem in str(raised.value)
    assert "Valid forms: `local`" in str(raised.value)
