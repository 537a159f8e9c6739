"""Properties of the parsers that read what people bring: the JSONL importers (eval sets, datasets) and the
system-spec grammar. Whatever the input (any text, any bytes, lines of JSON built from the formats' own
field names), each gives a result or a `LabError`, never another exception; and what it accepts is sound.

Each property is bounded (`max_examples`) so the file runs in seconds. Hypothesis does not reset
function-scoped fixtures between examples, so the tests that save use a new name for every example.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.access import LOCAL_ADMIN
from core.errors import LabError
from core.evaluation.sets import eval_items, import_eval_upload, list_eval_sets, parse_eval_set
from core.finetune.builders import Split, import_jsonl
from core.finetune.datasets import datasets_dir, list_datasets, read_split
from core.finetune.formats import check_examples, read_dataset
from core.llm.registry import BACKENDS, RETRIEVAL_OPTIONS
from core.llm.spec import SystemSpec, parse_spec

pytestmark = pytest.mark.reliability

BOUNDED = settings(max_examples=150, deadline=None)
SAVING = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
names = (f"property-{number}" for number in itertools.count())

# Text with every kind of character, most of it holding one that parsers trip on: half a surrogate pair
# (JSON may escape one), NUL, a line or paragraph separator (str.splitlines splits there), a byte order mark.
ANY_CHARACTER = st.characters(exclude_categories=())
TRICKY = st.sampled_from(["", "\ud800", "\udfff", "\x00", "\u2028", "\u2029", "\ufeff", "\r", '"', "\\"])


def text(min_size: int = 0) -> st.SearchStrategy[str]:
    return st.tuples(st.text(ANY_CHARACTER, min_size=min_size, max_size=20), TRICKY,
                     st.text(ANY_CHARACTER, max_size=20)).map("".join)


TEXT, WORDS = text(), text(min_size=1)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner,
                                                                                                max_size=4),
                           max_leaves=12)


def records(keys: list[str]) -> st.SearchStrategy[dict]:
    """JSON objects whose keys are mostly the format's own, with any values: nearly all of them wrong."""
    return st.dictionaries(st.sampled_from(keys) | TEXT, JSON_VALUES, max_size=6)


def jsonl(shaped: st.SearchStrategy[dict], wild: st.SearchStrategy[dict]) -> st.SearchStrategy[str]:
    """Files of lines shaped like the format, or of any lines (wild objects, text that is not JSON)."""
    def dump(record: dict) -> str:
        return json.dumps(record, allow_nan=True)

    clean = st.lists(shaped.map(dump), min_size=1, max_size=4)
    messy = st.lists((shaped | wild).map(dump) | TEXT, max_size=6)
    return (clean | messy).map("\n".join)


# Eval set lines: wild objects, and objects shaped like the format with values that may still be wrong.
EVAL_KEYS = ["id", "question", "reference_answer", "relevant_sources", "kind", "keywords", "tags",
             "reference_contexts", "evidence"]
EVIDENCE = st.fixed_dictionaries({"source": WORDS, "start_line": st.integers(-1, 9), "end_line": st.integers(-1, 9)})
EVAL_ITEMS = st.fixed_dictionaries(
    {"id": st.sampled_from(["q1", "q2", 1]) | WORDS | st.integers(), "question": WORDS},
    optional={"reference_answer": WORDS | st.none(), "kind": st.sampled_from(["factual", "behaviour", "opinion"]),
              "keywords": st.lists(WORDS, max_size=3), "reference_contexts": st.lists(WORDS, max_size=2),
              "evidence": st.lists(EVIDENCE, max_size=2)})
EVAL_LINES = jsonl(EVAL_ITEMS, records(EVAL_KEYS))

# Dataset lines: wild objects, and records in each format (a conversation now and then a valid one).
DATASET_KEYS = ["messages", "instruction", "input", "output", "response", "system", "prompt", "completion",
                "source"]
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant", "bot"]),
                                 "content": WORDS | JSON_VALUES})
CONVERSATION = st.lists(st.tuples(WORDS, WORDS), min_size=1, max_size=2).map(  # user, assistant, user, ...
    lambda turns: [{"role": role, "content": text}
                   for turn in turns for role, text in zip(("user", "assistant"), turn)])
MESSAGES = st.lists(MESSAGE, max_size=4) | CONVERSATION
DATASET_RECORDS = (st.fixed_dictionaries({"messages": MESSAGES}, optional={"source": WORDS | JSON_VALUES})
                   | st.fixed_dictionaries({"instruction": WORDS}, optional={"input": WORDS, "output": WORDS,
                                                                              "response": WORDS, "system": WORDS})
                   | st.fixed_dictionaries({"prompt": WORDS | MESSAGES, "completion": WORDS | MESSAGES}))
DATASET_LINES = jsonl(DATASET_RECORDS, records(DATASET_KEYS))
# Conversations in the right shape: whether one is accepted turns on its text alone.
CONVERSATIONS = st.lists(CONVERSATION.map(lambda messages: json.dumps({"messages": messages})), min_size=1,
                         max_size=3).map("\n".join)


def outcome(call):
    """What `call()` returns, or the `LabError` it raises; any other exception fails the property."""
    try:
        return call()
    except LabError as exc:
        assert str(exc).strip()
        return exc


# --- eval sets ----------------------------------------------------------------------------------------------

@BOUNDED
@given(text=TEXT | EVAL_LINES)
@example(text='{"id": "q1", "question": "\\u001f"}')  # a separator Python strips and pydantic keeps: found here
def test_any_text_parses_as_an_eval_set_or_says_why_not(text):
    items = outcome(lambda: parse_eval_set(text, "the set"))
    if not isinstance(items, LabError):
        assert items and len({item.id for item in items}) == len(items)
        assert all(item.question.strip() for item in items)


@SAVING
@given(data=st.binary(max_size=200) | EVAL_LINES.map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_any_upload_becomes_an_eval_set_or_leaves_the_saved_ones_as_they_were(db, data):
    before = {saved.name: saved.sha256 for saved in list_eval_sets(db)}
    name = next(names)
    row = outcome(lambda: import_eval_upload(db, name, data, "upload.jsonl", actor=LOCAL_ADMIN))
    after = {saved.name: saved.sha256 for saved in list_eval_sets(db)}
    if isinstance(row, LabError):
        assert after == before
    else:
        assert after == {**before, name: row.sha256} and len(eval_items(db, name)) == row.item_count


# --- fine-tuning datasets -----------------------------------------------------------------------------------

@BOUNDED
@given(data=st.binary(max_size=300) | (DATASET_LINES | CONVERSATIONS).map(lambda text: text.encode("utf-8",
                                                                                                  "surrogatepass")))
def test_any_bytes_read_as_a_dataset_in_the_canonical_form_or_say_why_not(data):
    read = outcome(lambda: read_dataset(data, "upload.jsonl"))
    if not isinstance(read, LabError):
        _, examples = read
        check_examples(examples)  # what training reads: the last message the answer, a user message before it
        json.dumps(examples, ensure_ascii=False).encode("utf-8")  # and what the dataset's files can hold


@pytest.fixture
def split(tiny_model_dir) -> Split:
    return Split(base=str(tiny_model_dir))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=DATASET_LINES | CONVERSATIONS)
def test_any_dataset_upload_is_saved_whole_or_not_at_all(db, split, text):
    before, name = {saved.name for saved in list_datasets(db)}, next(names)
    row = outcome(lambda: import_jsonl(db, name, text.encode("utf-8", "surrogatepass"), "upload.jsonl", split,
                                       actor=LOCAL_ADMIN))
    after = {saved.name for saved in list_datasets(db)}
    if isinstance(row, LabError):
        assert after == before and not (datasets_dir() / name).exists()
    else:
        assert after == before | {name}
        assert len(read_split(row, "train") + read_split(row, "validation")) == row.train_count + row.validation_count


# --- system specs -------------------------------------------------------------------------------------------

OPTION_NAMES = sorted({option.name for info in BACKENDS.values() for option in (*info.options, *RETRIEVAL_OPTIONS)})
OPTION_VALUES = (st.sampled_from(["0", "1", "4", "-1", "1.5", "nan", "inf", "1e400", "hybrid", "bfloat16", "cpu",
                                  "docs", "http://127.0.0.1:8000/v1", "a&b", "a=b", "%", "+"]) | TEXT)
GOOD_OPTIONS = st.sampled_from([("kb", "docs"), ("k", "4"), ("mode", "dense"), ("dtype", "bfloat16"),
                                ("device", "cpu"), ("batch_size", "2"), ("timeout", "30"), ("max_retries", "2")])
TEXT_OPTIONS = st.tuples(st.sampled_from(["kb", "adapter", "base_url", "key_env"]), WORDS)  # any text is a value
OPTIONS = st.one_of(GOOD_OPTIONS, TEXT_OPTIONS, st.tuples(st.sampled_from(OPTION_NAMES) | TEXT, OPTION_VALUES))
STRUCTURED_SPECS = st.builds(  # one_of's branches are drawn evenly: repeated ones make the known likelier
    lambda backend, model, options: backend + (f":{model}" if model is not None else "") +
    ("?" + "&".join(f"{key}={value}" for key, value in options) if options else ""),
    st.sampled_from([*BACKENDS, *BACKENDS, "LOCAL", "gemini", ""]), st.none() | st.none() | TEXT,
    st.lists(OPTIONS, max_size=3))


@BOUNDED
@given(text=TEXT | STRUCTURED_SPECS)
def test_any_text_is_a_system_spec_that_round_trips_or_says_why_not(text):
    spec = outcome(lambda: parse_spec(text))
    if isinstance(spec, SystemSpec):
        assert parse_spec(spec.text) == spec
        assert spec.typed_options.keys() == spec.options.keys()  # each value converts to its option's type
