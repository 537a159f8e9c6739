import json
import re

import pytest

from core.errors import InvalidInputError, NotFoundError
from core.finetune.formats import check_examples, read_dataset


def jsonl(*records) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode()


def chat(*pairs):
    return [{"role": role, "content": content} for role, content in pairs]


def test_alpaca_with_and_without_input_and_with_response_or_system(tmp_path):
    path = tmp_path / "alpaca.jsonl"
    path.write_bytes(jsonl(
        {"instruction": "Summarise the refund policy.", "input": "", "output": "Five business days."},
        {"instruction": "Translate to French.", "input": "Good morning", "response": "Bonjour"},
        {"instruction": "Greet.", "output": "Hello!", "system": "Answer in one word.", "source": "handbook"}))
    file_format, examples = read_dataset(path)
    assert file_format == "alpaca"
    assert examples == [
        {"messages": chat(("user", "Summarise the refund policy."), ("assistant", "Five business days."))},
        {"messages": chat(("user", "Translate to French.\n\nGood morning"), ("assistant", "Bonjour"))},
        {"messages": chat(("system", "Answer in one word."), ("user", "Greet."), ("assistant", "Hello!")),
         "source": "handbook"},
    ]


def test_chat_messages_keep_their_system_and_earlier_turns():
    messages = chat(("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello."), ("user", "Refunds?"),
                    ("assistant", "Five days."))
    assert read_dataset(jsonl({"messages": messages}), "chat.jsonl") == ("messages", [{"messages": messages}])


def test_prompt_completion_as_strings_and_as_message_lists():
    file_format, examples = read_dataset(jsonl(
        {"prompt": "Capital of France?", "completion": "Paris"},
        {"prompt": chat(("system", "Be brief."), ("user", "Capital of Spain?")),
         "completion": chat(("assistant", "Madrid"))}))
    assert file_format == "prompt_completion"
    assert examples == [{"messages": chat(("user", "Capital of France?"), ("assistant", "Paris"))},
                        {"messages": chat(("system", "Be brief."), ("user", "Capital of Spain?"),
                                          ("assistant", "Madrid"))}]


def test_blank_lines_are_skipped_but_counted_in_line_numbers():
    data = b"\n" + jsonl({"prompt": "a", "completion": "b"}) + b"\n\n{broken\n"
    with pytest.raises(InvalidInputError, match=r"line 4: not valid JSON \(Expecting property name"):
        read_dataset(data)


GOOD_ALPACA = {"instruction": "Say hi.", "output": "Hi."}


@pytest.mark.parametrize("lines, problem", [
    ([GOOD_ALPACA, '{"instruction": "x", "output": '], r"line 2: not valid JSON \("),
    ([GOOD_ALPACA, {"instruction": "Say bye."}], r"line 2: 'output' \(or 'response'\) is missing"),
    ([{"instruction": "Say hi.", "output": 3}], r"line 1: 'output' must be a string, not a number"),
    ([{"messages": chat(("user", "hi"), ("bot", "hello"))}],
     r"line 1: 'messages'\[1\] has role 'bot': use system, user or assistant"),
    ([{"messages": chat(("user", "hi"), ("assistant", "hello"), ("user", "and?"))}],
     r"line 1: 'messages' must end with an assistant message"),
    ([{"messages": chat(("system", "s"), ("assistant", "hello"))}],
     r"line 1: 'messages' needs a user message before the last assistant message"),
    ([{"messages": chat(("user", "hi"), ("system", "late"), ("assistant", "hello"))}],
     r"line 1: 'messages' may hold a system message only as its first message"),
    ([{"messages": []}], r"line 1: 'messages' must be a non-empty list"),
    ([GOOD_ALPACA, GOOD_ALPACA, {"prompt": "p", "completion": "c"}],
     r"line 3: looks like prompt_completion but the file is alpaca \(detected from line 1\)"),
    ([{"prompt": "p", "completion": "   "}], r"line 1: 'completion' is empty"),
    ([{"prompt": "p"}], r"line 1: 'completion' is missing"),
    ([{"prompt": chat(("user", "p")), "completion": "c"}],
     r"line 1: 'prompt' and 'completion' must both be strings or both be message lists"),
    ([{"prompt": chat(("user", "p")), "completion": chat(("user", "c"))}],
     r"line 1: 'completion' must be a list of exactly one assistant message"),
    ([["not", "an", "object"]], r"line 1: expected a JSON object, found a list"),
    ([{"question": "q", "answer": "a"}], r"line 1: unknown format: expected 'messages'.*found 'answer', 'question'"),
])
def test_each_malformed_line_is_named_with_its_number(lines, problem):
    with pytest.raises(InvalidInputError) as raised:
        read_dataset(jsonl(*lines), "data.jsonl")
    message = str(raised.value)
    assert message.startswith("data.jsonl has 1 problem(s), so nothing was saved")
    assert re.search(problem, message), message


@pytest.mark.parametrize("data", [b"", b"\n  \n\n"])
def test_an_empty_file_is_an_error(data):
    with pytest.raises(InvalidInputError, match="empty.jsonl is empty: it needs one JSON example per line"):
        read_dataset(data, "empty.jsonl")


def test_every_line_is_checked_and_the_list_is_capped():
    lines = [GOOD_ALPACA] + [{"instruction": "", "output": "x"}] * 25
    with pytest.raises(InvalidInputError) as raised:
        read_dataset(jsonl(*lines), "big.jsonl")
    message = str(raised.value)
    assert "big.jsonl has 25 problem(s)" in message
    assert "- line 2: 'instruction' is empty" in message and "- line 21: " in message
    assert "- line 22: " not in message and message.endswith("- ... and 5 more")


def test_a_missing_or_non_utf8_file_is_named(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        read_dataset(tmp_path / "missing.jsonl")
    with pytest.raises(InvalidInputError, match=r"latin.jsonl is not UTF-8 text \(line 2\)"):
        read_dataset(jsonl(GOOD_ALPACA) + b'\n{"instruction": "caf\xe9"}', "latin.jsonl")


def test_check_examples_accepts_the_canonical_form_and_names_bad_examples():
    check_examples([{"messages": chat(("user", "q"), ("assistant", "a")), "source": "git:abc"}])
    with pytest.raises(InvalidInputError, match="example 2: 'messages' must end with an assistant message"):
        check_examples([{"messages": chat(("user", "q"), ("assistant", "a"))}, {"messages": chat(("user", "q"))}])
    with pytest.raises(InvalidInputError, match="has no examples"):
        check_examples([])


def test_line_separators_inside_strings_do_not_split_a_record():
    text = json.dumps({"prompt": "a\u2028b", "completion": "c\u2029d"}, ensure_ascii=False)
    assert read_dataset(text.encode(), "unicode.jsonl")[1][0]["messages"][0]["content"] == "a\u2028b"
