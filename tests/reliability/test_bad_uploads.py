"""Bad uploads: eval sets, fine-tuning datasets and knowledge-base files the lab cannot use are refused
with a message that says what is wrong (a `LabError`, never a traceback), and what was saved before stays.

One table per kind of upload; each row is one distinct bad input.
"""

from __future__ import annotations

import json

import pytest

from core.access import LOCAL_ADMIN
from core.errors import AlreadyExistsError, InvalidInputError, LabError
from core.evaluation.sets import eval_items, import_eval_upload, list_eval_sets
from core.finetune.builders import Split, import_jsonl
from core.finetune.datasets import datasets_dir, get_dataset, list_datasets, read_split
from core.jobs import queue
from core.paths import uploads_dir
from core.rag.config import KnowledgeBaseConfig
from core.rag.index_job import submit_index
from core.rag.knowledge import list_knowledge_bases, register_knowledge_base

pytestmark = pytest.mark.reliability


def jsonl(*records) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def refused(call, message: str, error: type[LabError] = InvalidInputError) -> str:
    """`call()` raises `error` whose message holds `message`; returns the message."""
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value), str(raised.value)
    return str(raised.value)


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
NESTED = b"[" * 100_000
HUGE_NUMBER = b'{"id": ' + b"7" * 5000 + b', "question": "q"}\n'

# --- eval sets (core.evaluation.sets.import_eval_upload) ---------------------------------------------------

EVAL_SET = jsonl({"id": "q1", "question": "How long is the refund window?", "reference_answer": "30 days."},
                 {"id": "q2", "question": "Who approves discounts?", "kind": "factual"})
BAD_EVAL_SETS = [
    pytest.param(PNG, "is not UTF-8 text", id="binary-image"),
    pytest.param("café".encode("latin-1"), "is not UTF-8 text", id="latin-1-text"),
    pytest.param("{}".encode("utf-16"), "is not UTF-8 text", id="utf-16-text"),
    pytest.param(b"", "it holds no questions", id="empty-file"),
    pytest.param(b"\n  \n\t\n", "it holds no questions", id="blank-lines-only"),
    pytest.param(b"\x00\x00\x00", "line 1: not valid JSON", id="nul-bytes"),
    pytest.param(b'{"id": "q1", "question": ', "line 1: not valid JSON", id="truncated-json"),
    pytest.param(jsonl([{"id": "q1", "question": "q"}]), "line 1: not a JSON object", id="json-list"),
    pytest.param(jsonl("How long is the refund window?"), "line 1: not a JSON object", id="json-string"),
    pytest.param(jsonl({"id": "q1"}), "line 1: question is missing", id="missing-question"),
    pytest.param(jsonl({"question": "q"}), "line 1: id is missing", id="missing-id"),
    pytest.param(jsonl({"id": "q1", "question": "   "}), "line 1: question: String should have at least 1",
                 id="blank-question"),
    pytest.param(jsonl({"id": " ", "question": "q"}), "line 1: id: Value error, must not be empty", id="blank-id"),
    pytest.param(jsonl({"id": "q1", "question": "q", "answer": "a"}), "line 1: unknown field 'answer'",
                 id="unknown-field"),
    pytest.param(jsonl({"id": "q1", "question": "a"}, {"id": "q1", "question": "b"}),
                 "line 2: id 'q1' is already used on line 1", id="duplicate-id"),
    pytest.param(jsonl({"id": 7, "question": "a"}, {"id": "7", "question": "b"}),
                 "line 2: id '7' is already used on line 1", id="duplicate-id-number-and-text"),
    pytest.param(jsonl({"id": "q1", "question": 42}), "line 1: question: Input should be a valid string",
                 id="question-a-number"),
    pytest.param(jsonl({"id": "q1", "question": "q", "keywords": "refund"}),
                 "line 1: keywords: Input should be a valid list", id="keywords-not-a-list"),
    pytest.param(jsonl({"id": 1.5, "question": "q"}), "got a number with a fractional part", id="id-a-fraction"),
    pytest.param(jsonl({"id": True, "question": "q"}), "line 1: id: Value error, must be text or a whole number, not "
                 "true or false", id="id-a-boolean"),
    pytest.param(jsonl({"id": "q1", "question": "q", "kind": "opinion"}),
                 "line 1: kind: Input should be 'factual' or 'behaviour'", id="unknown-kind"),
    pytest.param(jsonl({"id": "q1", "question": "q", "evidence": [{"source": "a.md", "start_line": 5, "end_line": 2}]}),
                 "end_line 2 is before start_line 5", id="evidence-backwards"),
    pytest.param(jsonl({"id": "q1", "question": "q", "evidence": [{"source": "a.md", "start_line": 0, "end_line": 2}]}),
                 "evidence.0.start_line: Input should be greater than or equal to 1", id="evidence-line-zero"),
    pytest.param(b'{"id": "q1", "question": "half \\ud800 a character"}', "line 1: question: Input should be a "
                 "valid string, unable to parse raw data as a unicode string", id="lone-surrogate-escape"),
    pytest.param(NESTED, "line 1: not valid JSON (lists or objects nested too deeply)", id="nested-too-deeply"),
    pytest.param(HUGE_NUMBER, "line 1: not valid JSON (Exceeds the limit (4300 digits)", id="number-of-5000-digits"),
    pytest.param(b"not json\n" * 5000, "; and 4990 more. Nothing was imported", id="5000-bad-lines"),
]


@pytest.fixture
def saved_set(db):
    import_eval_upload(db, "support", EVAL_SET, "support.jsonl", actor=LOCAL_ADMIN)
    return [(item.item_id, item.question) for item in eval_items(db, "support")]


@pytest.mark.parametrize("data, message", BAD_EVAL_SETS)
def test_a_bad_eval_set_upload_is_refused_and_the_saved_set_under_its_name_is_kept(db, saved_set, data, message):
    shown = refused(lambda: import_eval_upload(db, "support", data, "support.jsonl", actor=LOCAL_ADMIN), message)
    assert len(shown) < 2000  # one screen, however large the file
    assert [row.name for row in list_eval_sets(db)] == ["support"]
    assert [(item.item_id, item.question) for item in eval_items(db, "support")] == saved_set


@pytest.mark.parametrize("name, message, error", [
    pytest.param("support", "An eval set named 'support' exists", AlreadyExistsError, id="name-taken"),
    pytest.param("../support", "'../support' is not a valid eval set name", InvalidInputError, id="name-traversal"),
    pytest.param("  ", "The eval set needs a name", InvalidInputError, id="name-blank"),
])
def test_an_eval_set_upload_under_a_bad_name_is_refused(db, saved_set, name, message, error):
    refused(lambda: import_eval_upload(db, name, EVAL_SET.replace(b"30 days", b"14 days"), "new.jsonl",
                                       actor=LOCAL_ADMIN),
            message, error)
    assert [(item.item_id, item.question) for item in eval_items(db, "support")] == saved_set
    assert eval_items(db, "support")[0].reference_answer == "30 days."


def test_an_eval_set_saved_with_a_byte_order_mark_imports(db):
    row = import_eval_upload(db, "windows", b"\xef\xbb\xbf" + EVAL_SET, "windows.jsonl", actor=LOCAL_ADMIN)
    assert row.item_count == 2 and eval_items(db, "windows")[0].item_id == "q1"


# --- fine-tuning datasets (core.finetune.builders.import_jsonl) ---------------------------------------------

def chat(question: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


DATASET = jsonl(*(chat(f"Question {i}?", f"TL;DR: answer {i}.") for i in range(6)))
USER, ASSISTANT = {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}
BAD_DATASETS = [
    pytest.param(PNG, "is not UTF-8 text (line 1)", id="binary-image"),
    pytest.param(jsonl(chat("q", "a"), chat("q", "a")) + "café".encode("latin-1"), "is not UTF-8 text (line 3)",
                 id="latin-1-on-line-3"),
    pytest.param(b"", "is empty: it needs one JSON example per line", id="empty-file"),
    pytest.param(b"\n \n", "is empty: it needs one JSON example per line", id="blank-lines-only"),
    pytest.param(b"instruction: say hi\n", "line 1: not valid JSON", id="not-json"),
    pytest.param(jsonl([USER, ASSISTANT]), "line 1: expected a JSON object, found a list", id="json-list"),
    pytest.param(jsonl({"question": "q", "answer": "a"}), "line 1: unknown format", id="unknown-format"),
    pytest.param(jsonl(chat("q", "a"), {"instruction": "q", "output": "a"}),
                 "line 2: looks like alpaca but the file is messages (detected from line 1)", id="mixed-formats"),
    pytest.param(jsonl({"messages": []}), "'messages' must be a non-empty list", id="no-messages"),
    pytest.param(jsonl({"messages": [USER, {"role": "bot", "content": "a"}]}), "has role 'bot'", id="unknown-role"),
    pytest.param(jsonl({"messages": [ASSISTANT, USER]}), "must end with an assistant message", id="ends-with-user"),
    pytest.param(jsonl({"messages": [{"role": "system", "content": "s"}, ASSISTANT]}),
                 "needs a user message before the last assistant message", id="no-user-message"),
    pytest.param(jsonl({"messages": [USER, {"role": "system", "content": "s"}, ASSISTANT]}),
                 "may hold a system message only as its first message", id="system-in-the-middle"),
    pytest.param(jsonl({"messages": [USER, {"role": "assistant", "content": None}]}),
                 "'messages'[1].content must be a string, not null", id="content-null"),
    pytest.param(jsonl({"instruction": "q"}), "'output' (or 'response') is missing", id="alpaca-no-output"),
    pytest.param(jsonl({"instruction": 3, "output": "a"}), "'instruction' must be a string, not a number",
                 id="alpaca-instruction-a-number"),
    pytest.param(jsonl({"instruction": " ", "output": "a"}), "'instruction' is empty", id="alpaca-blank-instruction"),
    pytest.param(jsonl({"prompt": "q"}), "'completion' is missing", id="prompt-without-completion"),
    pytest.param(jsonl({"prompt": "q", "completion": [ASSISTANT]}),
                 "'prompt' and 'completion' must both be strings or both be message lists", id="prompt-types-mixed"),
    pytest.param(jsonl({"prompt": [USER], "completion": [ASSISTANT, ASSISTANT]}),
                 "'completion' must be a list of exactly one assistant message", id="two-completions"),
    pytest.param(jsonl({**chat("q", "a"), "source": ["a.md"]}), "'source' must be a string, not a list",
                 id="source-a-list"),
    pytest.param(b'{"prompt": "half \\ud800 a character", "completion": "a"}',
                 "line 1: not valid text: a \\uXXXX escape in it is half of a character", id="lone-surrogate-escape"),
    pytest.param(NESTED, "line 1: not valid JSON (lists or objects nested too deeply)", id="nested-too-deeply"),
    pytest.param(b'{"prompt": ' + b"7" * 5000 + b', "completion": "a"}', "line 1: not valid JSON (Exceeds the limit",
                 id="number-of-5000-digits"),
    pytest.param(b"{}\n" * 5000, "has 5000 problem(s), so nothing was saved", id="5000-bad-lines"),
]


@pytest.fixture
def split(tiny_model_dir) -> Split:
    return Split(base=str(tiny_model_dir))


@pytest.fixture
def saved_dataset(db, split):
    row = import_jsonl(db, "support-style", DATASET, "style.jsonl", split, actor=LOCAL_ADMIN)
    return read_split(row, "train") + read_split(row, "validation")


def assert_dataset_kept(db, examples: list[dict]) -> None:
    assert [row.name for row in list_datasets(db)] == ["support-style"]
    row = get_dataset(db, "support-style")
    assert read_split(row, "train") + read_split(row, "validation") == examples
    assert [path.name for path in datasets_dir().iterdir()] == ["support-style"]  # nothing half-written


@pytest.mark.parametrize("data, message", BAD_DATASETS)
def test_a_bad_dataset_upload_is_refused_and_saves_nothing(db, split, saved_dataset, data, message):
    shown = refused(lambda: import_jsonl(db, "new-style", data, "new.jsonl", split, actor=LOCAL_ADMIN), message)
    assert len(shown) < 3000
    assert_dataset_kept(db, saved_dataset)


@pytest.mark.parametrize("name, message, error", [
    pytest.param("support-style", "A dataset named 'support-style' exists", AlreadyExistsError, id="name-taken"),
    pytest.param("../support-style", "is not a valid dataset name", InvalidInputError, id="name-traversal"),
    pytest.param("", "The dataset needs a name", InvalidInputError, id="name-empty"),
])
def test_a_dataset_upload_under_a_bad_name_is_refused(db, split, saved_dataset, name, message, error):
    refused(lambda: import_jsonl(db, name, jsonl(chat("Other?", "Other.")) * 3, "other.jsonl", split,
                                 actor=LOCAL_ADMIN), message, error)
    assert_dataset_kept(db, saved_dataset)


# --- knowledge-base uploads (core.rag.index_job.submit_index) -----------------------------------------------

UPLOAD = KnowledgeBaseConfig(source_kind="upload")
GUIDE = b"# Refunds\n\nRefunds are issued within 30 days.\n"
BAD_KB_UPLOADS = [
    pytest.param([], UPLOAD, "No readable text files", id="no-files"),
    pytest.param([("logo.png", PNG)], UPLOAD, "skipped logo.png: binary file", id="binary-image"),
    pytest.param([("tool.exe", b"MZ\x90\x00\x03\x00")], UPLOAD, "skipped tool.exe: binary file", id="executable"),
    pytest.param([("notes.md", b"")], UPLOAD, "skipped notes.md: no text in it", id="empty-file"),
    pytest.param([("notes.md", b"  \n\n\t")], UPLOAD, "skipped notes.md: no text in it", id="whitespace-only"),
    pytest.param([("notes.md", "café crème".encode("latin-1"))], UPLOAD, "skipped notes.md: not UTF-8 text",
                 id="latin-1-text"),
    pytest.param([("notes.txt", "hello".encode("utf-16"))], UPLOAD, "skipped notes.txt: binary file",
                 id="utf-16-text"),
    pytest.param([("manual.pdf", b"%PDF-1.7 cut short")], UPLOAD, "skipped manual.pdf: not a readable PDF",
                 id="broken-pdf"),
    pytest.param([("big.md", GUIDE * 10)], KnowledgeBaseConfig(source_kind="upload", max_file_bytes=100),
                 "over the 100 bytes limit per file", id="file-over-the-size-limit"),
]


@pytest.fixture
def saved_kb(db):
    """A knowledge base registered from an upload (its index is not needed to see it kept)."""
    register_knowledge_base(db, "team", UPLOAD, [("guide.md", GUIDE)])
    return uploads_dir() / "team" / "guide.md"


def assert_kb_kept(db, guide) -> None:
    assert [row.name for row in list_knowledge_bases(db)] == ["team"]
    assert guide.read_bytes() == GUIDE
    assert [path.name for path in uploads_dir().iterdir()] == ["team"]
    assert queue.list_jobs(db) == []


@pytest.mark.parametrize("uploads, config, message", BAD_KB_UPLOADS)
def test_a_knowledge_base_upload_with_nothing_to_read_is_refused_before_a_job_exists(db, saved_kb, uploads, config,
                                                                                     message):
    refused(lambda: submit_index(db, "new-kb", config, uploads, actor=LOCAL_ADMIN), message)
    assert_kb_kept(db, saved_kb)


@pytest.mark.parametrize("name, message, error", [
    pytest.param("team", "A knowledge base named 'team' exists", AlreadyExistsError, id="name-taken"),
    pytest.param("../team", "is not a valid knowledge base name", InvalidInputError, id="name-traversal"),
    pytest.param("team/../x", "is not a valid knowledge base name", InvalidInputError, id="name-with-slash"),
])
def test_a_knowledge_base_upload_under_a_bad_name_keeps_the_saved_files(db, saved_kb, name, message, error):
    refused(lambda: submit_index(db, name, UPLOAD, [("guide.md", b"# Replaced\n")], actor=LOCAL_ADMIN), message, error)
    assert_kb_kept(db, saved_kb)


LONG_NAME = "x" * 300 + ".md"
UNSAFE_FILE_NAMES = [  # what the browser sent, and the name the file is kept under
    pytest.param("../../etc/passwd", "passwd", id="parent-traversal"),
    pytest.param("..\\..\\windows\\win.ini", "win.ini", id="windows-traversal"),
    pytest.param("/etc/cron.d/job.md", "job.md", id="absolute-path"),
    pytest.param(".env", "env", id="dotfile"),
    pytest.param("..", "upload", id="dot-dot"),
    pytest.param("", "upload", id="no-name"),
    pytest.param("no\x00tes\n.md", "notes.md", id="control-characters"),
    pytest.param(LONG_NAME, "x" * 191 + ".md", id="300-characters"),
    pytest.param("é" * 150 + ".md", "é" * 95 + ".md", id="300-bytes-of-utf-8"),
]


@pytest.mark.parametrize("sent, kept", UNSAFE_FILE_NAMES)
def test_an_unsafe_upload_file_name_stays_in_the_knowledge_base_folder(db, sent, kept):
    register_knowledge_base(db, "names", UPLOAD, [(sent, GUIDE)])
    folder = uploads_dir() / "names"
    assert [path.name for path in folder.iterdir()] == [kept]
    assert (folder / kept).read_bytes() == GUIDE and len(kept.encode()) <= 200


def test_uploads_with_the_same_name_are_all_kept(db):
    register_knowledge_base(db, "same", UPLOAD, [("notes.md", b"one"), ("notes.md", b"two"), ("notes.md", b"three")])
    folder = uploads_dir() / "same"
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == {
        "notes.md": b"one", "notes-2.md": b"two", "notes-3.md": b"three"}
