"""Eval sets: checked line by line, kept in the store, seen by the leakage check."""

import json

import pytest

from core.access import LOCAL_ADMIN
from core.cli import main
from core.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from core.evaluation.sets import (
    eval_items,
    get_eval_set,
    import_eval_file,
    import_eval_set,
    list_eval_sets,
    parse_eval_set,
    remove_eval_set,
)
from core.finetune.analysis import stored_questions
from core.finetune.datasets import create_dataset

DEMO = "eval_sets/demo/ledgerly-v1.jsonl"


def lines(*items: dict) -> str:
    return "\n".join(json.dumps(item) for item in items) + "\n"


def test_every_field_is_kept_in_file_order(db):
    text = lines({"id": "q1", "question": "Refund window?", "reference_answer": "30 days.", "kind": "factual",
                  "relevant_sources": ["billing.md"], "keywords": ["30 days"], "tags": ["billing"]},
                 {"id": 2, "question": "Say hi in house style."})
    row = import_eval_set(db, "support", text, "upload:support.jsonl", actor=LOCAL_ADMIN)
    assert row.item_count == 2 and len(row.sha256) == 64
    first, second = eval_items(db, "support")
    assert (first.item_id, first.reference_answer, first.relevant_sources, first.keywords, first.tags) == \
        ("q1", "30 days.", ["billing.md"], ["30 days"], ["billing"])
    assert (second.item_id, second.kind, second.keywords) == ("2", None, [])


def test_every_bad_line_is_reported_with_its_number_and_nothing_is_imported(db):
    text = lines({"id": "a", "question": "ok"}, {"id": "a", "question": "again"}) + "not json\n" + lines(
        {"id": "b", "question": "q", "kind": "opinion"}, {"id": "c", "question": "q", "refrence_answer": "r"},
        {"question": "no id"}, {"id": "d", "question": "  "}, [1, 2], {"id": "e", "question": "q", "tags": [""]})
    with pytest.raises(InvalidInputError) as refused:
        import_eval_set(db, "broken", text, "broken.jsonl", actor=LOCAL_ADMIN)
    message = str(refused.value)
    for expected in ("line 2: id 'a' is already used on line 1", "line 3: not valid JSON",
                     "line 4: kind: Input should be 'factual' or 'behaviour'", "line 5: unknown field 'refrence_answer'",
                     "line 6: id is missing", "line 7: question:", "line 8: not a JSON object",
                     "line 9: tags: Value error, must not hold empty strings", "Nothing was imported"):
        assert expected in message
    assert list_eval_sets(db) == []


def test_an_empty_file_is_refused():
    with pytest.raises(InvalidInputError, match="holds no questions"):
        parse_eval_set("\n\n", "empty.jsonl")


def test_names_are_unique_and_checked(db):
    import_eval_file(db, DEMO, actor=LOCAL_ADMIN)
    with pytest.raises(AlreadyExistsError, match="evalset remove ledgerly-v1"):
        import_eval_file(db, DEMO, actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="not a valid eval set name"):
        import_eval_file(db, DEMO, name="../escape", actor=LOCAL_ADMIN)
    with pytest.raises(NotFoundError, match="No eval set file"):
        import_eval_file(db, "eval_sets/missing.jsonl", actor=LOCAL_ADMIN)


def test_removing_a_set_removes_its_items(db):
    import_eval_file(db, DEMO, name="demo", actor=LOCAL_ADMIN)
    remove_eval_set(db, "demo", actor=LOCAL_ADMIN)
    with pytest.raises(NotFoundError, match="known: none yet"):
        get_eval_set(db, "demo")
    assert stored_questions(db) == []


def test_stored_sets_are_part_of_the_leakage_check(db):
    import_eval_set(db, "support", lines({"id": "r1", "question": "How long do refunds take to arrive?"}), "x",
                    actor=LOCAL_ADMIN)
    example = {"messages": [{"role": "user", "content": "How long do refunds take to arrive?"},
                            {"role": "assistant", "content": "Five days."}]}
    dataset = create_dataset(db, "leaky", [example] * 4, "import", "messages", validation_fraction=0.25,
                             actor=LOCAL_ADMIN)
    leaks = dataset.details["leakage"]
    assert leaks and all(leak["question_source"] == "eval set support:r1" for leak in leaks)


def test_a_question_asked_as_trained_on_purpose_is_not_a_leak(db):
    question = "How long do refunds take to arrive?"
    import_eval_set(db, "as-trained", lines({"id": "t1", "question": question, "tags": ["training-phrasing"]}), "x",
                    actor=LOCAL_ADMIN)
    import_eval_set(db, "reworded", lines({"id": "t1", "question": "When will my refund arrive?",
                                           "tags": ["paraphrase"]}), "x", actor=LOCAL_ADMIN)
    assert stored_questions(db) == [("eval set reworded:t1", "When will my refund arrive?")]


def test_the_command_line(db, capsys):
    assert main(["evalset", "import", DEMO, "--name", "demo"]) == 0
    assert "Imported eval set demo: 40 questions" in capsys.readouterr().out
    assert main(["evalset", "list"]) == 0
    assert capsys.readouterr().out.startswith("demo\t40 questions\t")
    assert main(["evalset", "show", "demo", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["items"][0]["item_id"] == "f01" and shown["items"][-1]["kind"] == "behaviour"
    assert main(["evalset", "show", "ghost"]) == 2
    assert "No eval set named 'ghost'" in capsys.readouterr().err


def test_an_upload_that_is_not_utf8_is_refused_with_its_name(db):
    from core.evaluation.sets import import_eval_upload

    with pytest.raises(InvalidInputError, match="questions.jsonl is not UTF-8 text"):
        import_eval_upload(db, "latin", '{"id": 1, "question": "Café?"}'.encode("latin-1"), "questions.jsonl",
                           actor=LOCAL_ADMIN)
    row = import_eval_upload(db, "ok", b'{"id": 1, "question": "Q?"}', "ok.jsonl", actor=LOCAL_ADMIN)
    assert row.source == "upload:ok.jsonl"


def test_a_file_given_to_a_run_is_imported_once_and_a_different_one_under_its_name_is_refused(db, tmp_path):
    from core.evaluation.sets import resolve_eval_set

    path = tmp_path / "mine.jsonl"
    path.write_text(lines({"id": "1", "question": "Q?"}))
    first = resolve_eval_set(db, str(path), actor=LOCAL_ADMIN)
    assert resolve_eval_set(db, str(path), actor=LOCAL_ADMIN).id == first.id
    assert resolve_eval_set(db, "mine", actor=LOCAL_ADMIN).id == first.id
    path.write_text(lines({"id": "1", "question": "Another Q?"}))
    with pytest.raises(AlreadyExistsError, match="A different eval set named 'mine'"):
        resolve_eval_set(db, str(path), actor=LOCAL_ADMIN)
