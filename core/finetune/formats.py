"""Read fine-tuning data in the common JSONL formats into one canonical chat form.

People bring data as Alpaca records (`instruction`, optional `input`, `output` or `response`),
chat `messages`, or `prompt` / `completion` pairs (strings, or message lists as in trl's
conversational form). The format is detected once per file, from its first record; every line is
checked against it, and either every line becomes an example or the import fails listing what is
wrong line by line: a dataset is never half-imported.

The canonical example is `{"messages": [{"role", "content"}, ...], "source": str}` ("source" is
optional). Its last message is the assistant's, with a user message before it: training uses
`messages[:-1]` as the prompt and the last message as the completion.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

from core.errors import InvalidInputError, NotFoundError

FORMATS = ("alpaca", "messages", "prompt_completion")
ROLES = ("system", "user", "assistant")
MAX_REPORTED = 20  # problems listed in one error; the rest are counted


class _Problem(Exception):
    """What is wrong with one record; the caller adds where it is."""


def read_dataset(source: Path | str | bytes, name: str = "") -> tuple[str, list[dict]]:
    """(format, canonical examples) of a JSONL file, given as a path or its bytes.

    Raises `InvalidInputError` listing every bad line when any line is bad, or when there is none."""
    label = name or ("The uploaded file" if isinstance(source, bytes) else Path(source).name)
    text = _decode(source if isinstance(source, bytes) else _read(Path(source)), label)
    file_format, detected_at = "", 0
    examples: list[dict] = []
    problems: list[str] = []
    # Not splitlines(): it also splits at U+2028, which JSON strings may hold as is.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = _parse(line)
            kind = _detect_format(record)
            if not file_format:
                file_format, detected_at = kind, number
            elif kind != file_format:
                raise _Problem(f"looks like {kind} but the file is {file_format} (detected from line {detected_at})")
            examples.append(_CONVERTERS[kind](record))
        except _Problem as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise InvalidInputError(_summary(label, problems))
    if not examples:
        raise InvalidInputError(f"{label} is empty: it needs one JSON example per line "
                                f"(formats: {', '.join(FORMATS)}).")
    return file_format, examples


def _detect_format(record: dict[str, Any]) -> str:
    """The format one record is written in, from its keys."""
    if "messages" in record:
        return "messages"
    if "instruction" in record:
        return "alpaca"
    if "prompt" in record or "completion" in record:
        return "prompt_completion"
    raise _Problem("unknown format: expected 'messages', or 'instruction' and 'output', or 'prompt' and "
                   f"'completion'; found {', '.join(map(repr, sorted(record))) or 'no keys'}")


def check_examples(examples: Sequence[Any]) -> None:
    """Raise `InvalidInputError` unless every example is in the canonical form."""
    _check_each(examples, "example", _check_example, "The dataset",
                "The dataset has no examples: a dataset needs at least one.")


def check_pairs(pairs: Sequence[Any]) -> None:
    """Raise `InvalidInputError` unless every pair is in trl's conversational preference form: `prompt`, a
    conversation ending with the user's turn, and `chosen` and `rejected`, one assistant message each."""
    _check_each(pairs, "pair", _check_pair, "The preference pairs",
                "There are no preference pairs: a dataset needs at least one.")


def _check_each(items: Sequence[Any], noun: str, check: Callable[[Any], None], whole: str, empty: str) -> None:
    """Every item's problem, numbered, in one message; then the refusal of an empty list."""
    problems = []
    for number, item in enumerate(items, start=1):
        try:
            check(item)
        except _Problem as exc:
            problems.append(f"{noun} {number}: {exc}")
    if problems:
        raise InvalidInputError(_summary(whole, problems))
    if not items:
        raise InvalidInputError(empty)


def _check_example(example: Any) -> None:
    if not isinstance(example, dict) or "messages" not in example:
        raise _Problem("must be an object with 'messages'")
    _from_messages(example)


def _check_pair(pair: Any) -> None:
    if not isinstance(pair, dict) or not {"prompt", "chosen", "rejected"} <= pair.keys():
        raise _Problem("must be an object with 'prompt', 'chosen' and 'rejected'")
    for side in ("chosen", "rejected"):
        answer = _messages(pair[side], f"'{side}'")
        if len(answer) != 1 or answer[0]["role"] != "assistant":
            raise _Problem(f"'{side}' must be a list of exactly one assistant message")
        _conversation(_messages(pair["prompt"], "'prompt'") + answer, "'prompt'")


def as_chat(example: dict) -> dict:
    """The conversation an example's length and leakage are measured on: its own messages, or a preference
    pair's prompt with the longer of its two answers (what must fit the max sequence length)."""
    if "messages" in example:
        return example
    longer = max(example["chosen"], example["rejected"], key=lambda answer: len(answer[0]["content"]))
    return {"messages": [*example["prompt"], *longer]}


def shown_messages(example: dict) -> list[tuple[str, str]]:
    """(heading, text) of each message as pages and the CLI show it: a chat's messages under their roles, a
    preference pair's prompt, then its answers under "chosen" and "rejected"."""
    if "messages" in example:
        return [(message["role"], message["content"]) for message in example["messages"]]
    return ([(message["role"], message["content"]) for message in example["prompt"]]
            + [(answer, example[answer][0]["content"]) for answer in ("chosen", "rejected")])


def _from_messages(record: dict[str, Any]) -> dict:
    return _example(_conversation(_messages(record["messages"], "'messages'"), "'messages'"), record)


def _from_alpaca(record: dict[str, Any]) -> dict:
    instruction = _field(record, "instruction")
    extra = record.get("input") or ""
    if not isinstance(extra, str):
        raise _Problem(f"'input' must be a string, not {_kind(extra)}")
    answer_key = "output" if "output" in record else "response"
    if answer_key not in record:
        raise _Problem("'output' (or 'response') is missing")
    system = record.get("system") or ""
    if not isinstance(system, str):
        raise _Problem(f"'system' must be a string, not {_kind(system)}")
    messages = [{"role": "system", "content": system}] if system.strip() else []
    messages.append({"role": "user", "content": f"{instruction}\n\n{extra}" if extra.strip() else instruction})
    messages.append({"role": "assistant", "content": _field(record, answer_key)})
    return _example(messages, record)


def _from_prompt_completion(record: dict[str, Any]) -> dict:
    prompt, completion = record.get("prompt"), record.get("completion")
    for key in ("prompt", "completion"):
        if key not in record:
            raise _Problem(f"'{key}' is missing")
    if isinstance(prompt, list) and isinstance(completion, list):
        answer = _messages(completion, "'completion'")
        if len(answer) != 1 or answer[0]["role"] != "assistant":
            raise _Problem("'completion' must be a list of exactly one assistant message")
        return _example(_conversation(_messages(prompt, "'prompt'") + answer, "'prompt'"), record)
    if isinstance(prompt, list) or isinstance(completion, list):
        raise _Problem("'prompt' and 'completion' must both be strings or both be message lists")
    return _example([{"role": "user", "content": _field(record, "prompt")},
                     {"role": "assistant", "content": _field(record, "completion")}], record)


_CONVERTERS: dict[str, Callable[[dict[str, Any]], dict]] = {
    "alpaca": _from_alpaca, "messages": _from_messages, "prompt_completion": _from_prompt_completion}


def _messages(value: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise _Problem(f"{where} must be a non-empty list of {{'role', 'content'}} objects")
    messages = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _Problem(f"{where}[{index}] must be an object with 'role' and 'content', not {_kind(item)}")
        if item.get("role") not in ROLES:
            raise _Problem(f"{where}[{index}] has role {item.get('role')!r}: use system, user or assistant")
        messages.append({"role": item["role"], "content": _field(item, "content", f"{where}[{index}].content")})
    return messages


def _conversation(messages: list[dict[str, str]], where: str) -> list[dict[str, str]]:
    """`messages` if they make a training example: system first if at all, ending in the answer."""
    if messages[-1]["role"] != "assistant":
        raise _Problem(f"{where} must end with an assistant message")
    if not any(m["role"] == "user" for m in messages[:-1]):
        raise _Problem(f"{where} needs a user message before the last assistant message")
    if any(m["role"] == "system" for m in messages[1:]):
        raise _Problem(f"{where} may hold a system message only as its first message")
    return messages


def _example(messages: list[dict[str, str]], record: dict[str, Any]) -> dict:
    source = record.get("source")
    if source is not None and not isinstance(source, str):
        raise _Problem(f"'source' must be a string, not {_kind(source)}")
    return {"messages": messages, **({"source": source} if source else {})}


def _field(record: dict[str, Any], key: str, where: str = "") -> str:
    where = where or f"'{key}'"
    if key not in record:
        raise _Problem(f"{where} is missing")
    value = record[key]
    if not isinstance(value, str):
        raise _Problem(f"{where} must be a string, not {_kind(value)}")
    if not value.strip():
        raise _Problem(f"{where} is empty")
    return value


def _parse(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _Problem(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    except ValueError as exc:  # a number of more than 4300 digits
        raise _Problem(f"not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise _Problem("not valid JSON (lists or objects nested too deeply)") from exc
    if not isinstance(record, dict):
        raise _Problem(f"expected a JSON object, found {_kind(record)}")
    try:  # the tokenizer and the UTF-8 files a dataset is saved in refuse such text with a traceback
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Problem("not valid text: a \\uXXXX escape in it is half of a character (a lone surrogate)") from exc
    return record


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFoundError(f"{path} does not exist: check the path of the JSONL file.") from exc
    except OSError as exc:
        raise InvalidInputError(f"{path} cannot be read: {exc.strerror or exc}.") from exc


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InvalidInputError(f"{label} is not UTF-8 text (line {line}): re-save it as UTF-8.") from exc


def _summary(label: str, problems: list[str]) -> str:
    listed = "".join(f"\n- {problem}" for problem in problems[:MAX_REPORTED])
    more = f"\n- ... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
    return f"{label} has {len(problems)} problem(s), so nothing was saved; fix them and try again:{listed}{more}"
