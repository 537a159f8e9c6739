import json

import pytest

from core.access import LOCAL_ADMIN
from core.errors import AlreadyExistsError, InvalidInputError, NotFoundError, StoreError
from core.finetune.analysis import (eval_questions, leakage_report, length_histogram, length_stats, similarity,
                                    token_lengths)
from core.finetune.datasets import (create_dataset, datasets_dir, get_dataset, list_datasets, read_split,
                                    remove_dataset, split_examples)


def example(question: str, answer: str = "An answer.") -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


QUESTIONS = ["How are refunds issued?", "When are invoices generated?", "Who owns the billing service?",
             "Which port does the API listen on?", "How do I rotate my password?", "Where are logs kept?",
             "What is the deployment strategy?", "How long do session tokens last?", "Can I export my data?",
             "Which currencies are supported?", "How is tax computed for Germany?", "What does error 4012 mean?",
             "Who approves a discount over ten percent?", "Is there a staging environment?",
             "How do webhooks retry?", "What happens when a card expires?", "Where is the style guide?",
             "How are trials converted to paid plans?", "What is the on-call rotation?", "How big can uploads be?"]
EXAMPLES = [example(question, f"Answer {i}.") for i, question in enumerate(QUESTIONS)]


def test_create_writes_both_splits_and_records_how_it_was_built(db, base):
    questions = [("eval_sets/support.jsonl:3", "how long do session tokens last"),
                 ("eval_sets/support.jsonl:4", "How long does a session token last?")]
    row = create_dataset(db, "invoices", EXAMPLES, "import", "alpaca", {"file": "invoices.jsonl"},
                         validation_fraction=0.2, seed=3, base=base, questions=questions, actor=LOCAL_ADMIN)
    assert (row.name, row.source, row.source_format, row.train_count, row.validation_count) == (
        "invoices", "import", "alpaca", 16, 4)
    assert row.folder == str(datasets_dir() / "invoices")
    train, validation = read_split(row, "train"), read_split(row, "validation")
    assert sorted(map(json.dumps, train + validation)) == sorted(map(json.dumps, EXAMPLES))
    details = row.details
    assert (details["file"], details["seed"], details["validation_fraction"]) == ("invoices.jsonl", 3, 0.2)
    assert details["token_lengths"]["base"] == base and details["token_lengths"]["count"] == 20
    assert 10 < details["token_lengths"]["min"] <= details["token_lengths"]["p50"] <= details["token_lengths"]["max"]
    leaked = [(EXAMPLES.index((train if leak["split"] == "train" else validation)[leak["example"]]),
               leak["question_source"], leak["similarity"]) for leak in details["leakage"]]
    assert leaked == [(7, "eval_sets/support.jsonl:3", 1.0), (7, "eval_sets/support.jsonl:4", 0.923)]
    assert [d.name for d in list_datasets(db)] == ["invoices"] and get_dataset(db, "invoices").id == row.id
    assert not [p for p in datasets_dir().iterdir() if p.name != "invoices"]  # no temporary folder left


def test_the_split_is_seeded(db):
    assert split_examples(EXAMPLES, 0.25, seed=1) == split_examples(EXAMPLES, 0.25, seed=1)
    assert split_examples(EXAMPLES, 0.25, seed=1) != split_examples(EXAMPLES, 0.25, seed=2)
    train, validation = split_examples(EXAMPLES, 0.25, seed=1)
    assert (len(train), len(validation)) == (15, 5)
    assert train == [e for e in EXAMPLES if e in train]  # file order is kept
    assert [len(s) for s in split_examples(EXAMPLES[:2], 0.1, 0)] == [1, 1]
    assert [len(s) for s in split_examples(EXAMPLES[:1], 0.1, 0)] == [1, 0]


def test_duplicates_bad_names_and_bad_examples_save_nothing(db, base):
    create_dataset(db, "first", EXAMPLES[:3], "import", "messages", base=base, questions=[], actor=LOCAL_ADMIN)
    with pytest.raises(AlreadyExistsError, match="A dataset named 'first' exists"):
        create_dataset(db, "first", EXAMPLES, "import", "messages", base=base, questions=[], actor=LOCAL_ADMIN)
    assert get_dataset(db, "first").train_count == 2 and len(read_split(get_dataset(db, "first"))) == 2
    with pytest.raises(InvalidInputError, match="'../up' is not a valid dataset name"):
        create_dataset(db, "../up", EXAMPLES, "import", "messages", base=base, questions=[], actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="example 2: 'messages' must end with an assistant message"):
        create_dataset(db, "bad", [EXAMPLES[0], {"messages": [{"role": "user", "content": "q"}]}], "import",
                       "messages", base=base, questions=[], actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="validation fraction must be over 0 and at most 0.5"):
        create_dataset(db, "bad", EXAMPLES, "import", "messages", validation_fraction=0.9, base=base, questions=[],
                       actor=LOCAL_ADMIN)
    assert [d.name for d in list_datasets(db)] == ["first"]
    assert sorted(p.name for p in datasets_dir().iterdir()) == ["first"]


def test_a_failed_insert_removes_the_written_files(db, base):
    with pytest.raises(StoreError):  # the source column is NOT NULL: the database refuses the row
        create_dataset(db, "lost", EXAMPLES, None, "messages", base=base, questions=[], actor=LOCAL_ADMIN)
    assert list(datasets_dir().iterdir()) == []


def test_a_leftover_folder_is_never_overwritten(db, base):
    (datasets_dir() / "orphan").mkdir(parents=True)
    (datasets_dir() / "orphan" / "train.jsonl").write_text("kept\n")
    with pytest.raises(AlreadyExistsError, match="exists but no dataset names it"):
        create_dataset(db, "orphan", EXAMPLES, "import", "messages", base=base, questions=[], actor=LOCAL_ADMIN)
    assert (datasets_dir() / "orphan" / "train.jsonl").read_text() == "kept\n" and list_datasets(db) == []
    assert sorted(p.name for p in datasets_dir().iterdir()) == ["orphan"]


def test_remove_and_missing_datasets(db, base):
    row = create_dataset(db, "gone", EXAMPLES, "import", "messages", base=base, questions=[], actor=LOCAL_ADMIN)
    remove_dataset(db, "gone", actor=LOCAL_ADMIN)
    assert list_datasets(db) == [] and not (datasets_dir() / "gone").exists()
    with pytest.raises(NotFoundError, match="No dataset named 'gone'; `python -m core dataset list` shows them."):
        get_dataset(db, "gone")
    with pytest.raises(NotFoundError, match="The train file of dataset 'gone' is missing"):
        read_split(row, "train")
    with pytest.raises(InvalidInputError, match="Unknown split 'test'"):
        read_split(row, "test")


def test_token_lengths_use_the_chat_template(base):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    short, long = example("Hi?", "Hello."), example("Hi? " * 50, "Hello. " * 50)
    lengths = token_lengths([short, long], tokenizer)
    templated = tokenizer.apply_chat_template(short["messages"], tokenize=False)
    assert lengths[0] == len(tokenizer(templated, add_special_tokens=False)["input_ids"]) and lengths[1] > 150
    assert length_stats([3, 1, 2, 10]) == {"count": 4, "min": 1, "p50": 2, "p90": 8, "max": 10, "mean": 4.0}
    assert length_stats([])["count"] == 0
    tokenizer.chat_template = None
    with pytest.raises(InvalidInputError, match="cannot write chats"):
        token_lengths([short], tokenizer)
    figure = length_histogram(lengths, max_length=64)
    assert list(figure.data[0].x) == lengths
    assert figure.layout.shapes[0].x0 == 64 and "max length 64: 1 longer" in figure.layout.annotations[0].text


def test_leakage_flags_near_duplicates_only():
    questions = [("eval_sets/a.jsonl:1", "How are session tokens refreshed?"),
                 ("eval_sets/a.jsonl:2", "When are invoices generated?")]
    examples = [example("how are session tokens refreshed"),  # exact once normalised
                example("How are the session tokens refreshed?"),  # one word more: Jaccard 0.83
                example("When are the invoices generated?!"),  # close by characters
                example("What colour is the office coffee machine?")]
    report = leakage_report(examples, questions)
    assert [(r["example"], r["question_source"]) for r in report] == [
        (0, "eval_sets/a.jsonl:1"), (1, "eval_sets/a.jsonl:1"), (2, "eval_sets/a.jsonl:2")]
    assert report[0]["similarity"] == 1.0 and report[0]["eval_question"] == "How are session tokens refreshed?"
    assert 0.8 <= report[1]["similarity"] < 1.0 and report[2]["similarity"] >= 0.9
    assert similarity("How do I refresh a token?", "How are session tokens refreshed?") == 0.0


def test_eval_questions_are_read_with_their_file_and_line(tmp_path):
    folder = tmp_path / "eval_sets"
    folder.mkdir()
    (folder / "support.jsonl").write_text('{"id": "q1", "question": "Refunds?"}\n\n'
                                          '{"id": "q2", "question": "Tokens?"}\n'
                                          '{"id": "q3", "question": "Tokens?", "tags": ["training-phrasing"]}\n')
    (folder / "README.md").write_text("not a set")
    assert eval_questions(folder) == [("eval_sets/support.jsonl:1", "Refunds?"),
                                      ("eval_sets/support.jsonl:3", "Tokens?")]
    (folder / "broken.jsonl").write_text('{"id": "q1"}\n')
    with pytest.raises(InvalidInputError, match=r"broken.jsonl:1 is not an eval question"):
        eval_questions(folder)
