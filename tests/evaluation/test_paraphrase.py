"""A dataset's training questions as trained and reworded: a system rewords each, the embedder keeps a rewording
only when its meaning held and it is not the question again, and the kept ones become two eval sets with the
same ids and references."""

from math import sqrt

import numpy as np
import pytest
from tests.llm.fake_servers import FakeServer, openai_chat
from tests.rag.rag_fixtures import ScriptedBackend

from core.access import LOCAL_ADMIN, Actor, Role
from core.cli import main
from core.errors import AccessDeniedError, InvalidInputError, NotFoundError
from core.evaluation.paraphrase import MIN_SIMILARITY, clean_reply, drop_reason, paraphrase_eval_sets
from core.evaluation.sets import eval_items, get_eval_set, import_eval_set
from core.finetune.datasets import create_dataset, read_split

TRAINED = ["How long is a session token valid?", "When are invoices generated?", "Where do refunds go?",
           "Who can approve a report?"]
VALIDATION = "What colour is the office coffee machine?"  # the seeded split keeps the fourth example apart
REWORDED = {  # the system's reply to each trained question, and the cosine the fake embedder gives it
    TRAINED[0]: ('"For how long does a session token stay valid?"', 0.75),
    TRAINED[1]: ("Paraphrase: When is an invoice created?\nI kept the meaning.", MIN_SIMILARITY),
    TRAINED[2]: ("where do refunds go", 0.99),
    TRAINED[3]: ("Who owns the office plants?", 0.3),
}


@pytest.fixture
def support(db, tiny_model_dir) -> str:
    questions = TRAINED[:3] + [VALIDATION] + TRAINED[3:]
    row = create_dataset(db, "support", [chat(q, f"Answer to {q}") for q in questions], "import", "messages",
                         validation_fraction=0.2, base=str(tiny_model_dir), questions=[], actor=LOCAL_ADMIN)
    assert [e["messages"][1]["content"] for e in read_split(row)] == TRAINED
    return row.name


def chat(question: str, answer: str) -> dict:
    return {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": question},
                         {"role": "assistant", "content": answer}]}


def fake_embed(texts: list[str]) -> np.ndarray:
    """Each trained question on one axis, each rewording at the cosine REWORDED gives it."""
    cosine = {clean_reply(reply): similarity for reply, similarity in REWORDED.values()}
    return np.array([[cosine.get(text, 1.0), sqrt(1 - cosine.get(text, 1.0) ** 2)] for text in texts])


@pytest.mark.parametrize("paraphrase, similarity, reason", [
    ("For how long does a session token stay valid?", 0.75, None),
    ("For how long does a session token stay valid?", MIN_SIMILARITY, None),
    ("For how long does a session token stay valid?", MIN_SIMILARITY - 0.01, "meaning drifted (cosine below 0.6)"),
    ("how long is a SESSION token valid", 0.99, "the question again"),
    ("  ", 0.0, "empty"),
])
def test_a_rewording_is_kept_only_when_its_meaning_held_and_it_is_new(paraphrase, similarity, reason):
    assert drop_reason("How long is a session token valid?", paraphrase, similarity) == reason


@pytest.mark.parametrize("reply, question", [
    ('"When is an invoice created?"', "When is an invoice created?"),
    ("Reworded question: When is an invoice created?\n\nI changed the verb.", "When is an invoice created?"),
    ("**Paraphrase:** “When is an invoice created?”", "When is an invoice created?"),
    ("```\nWhen is an invoice created?\n```", "When is an invoice created?"),
    ("", ""),
])
def test_the_reworded_question_is_read_from_the_reply(reply, question):
    assert clean_reply(reply) == question


def test_the_kept_rewordings_become_two_sets_with_the_same_ids_and_references(db, support):
    backend = ScriptedBackend(*(REWORDED[q][0] for q in TRAINED))
    made = paraphrase_eval_sets(db, support, "local", backend_for=lambda _spec: backend, embed=fake_embed,
                                actor=LOCAL_ADMIN)

    assert (made.training_set, made.paraphrase_set, made.asked, made.kept) == (
        "support-training", "support-paraphrased", 4, 2)
    assert made.dropped == {"the question again": 1, "meaning drifted (cosine below 0.6)": 1}
    assert all(q in prompt.messages[0].content for q, prompt in zip(TRAINED, backend.prompts))
    trained, reworded = eval_items(db, made.training_set), eval_items(db, made.paraphrase_set)
    assert [(i.item_id, i.question, i.tags) for i in trained] == [
        ("t001", TRAINED[0], ["training-phrasing"]), ("t002", TRAINED[1], ["training-phrasing"])]
    assert [(i.item_id, i.question, i.tags) for i in reworded] == [
        ("t001", "For how long does a session token stay valid?", ["paraphrase"]),
        ("t002", "When is an invoice created?", ["paraphrase"])]
    assert [i.reference_answer for i in reworded] == [i.reference_answer for i in trained] == [
        f"Answer to {TRAINED[0]}", f"Answer to {TRAINED[1]}"]
    assert get_eval_set(db, made.paraphrase_set).source == "dataset support, reworded by local"


def test_who_may_write_and_taken_names_are_checked_before_a_model_is_asked(db, support):
    def no_model(_spec):
        raise AssertionError("a model was asked")

    with pytest.raises(AccessDeniedError, match="import an eval set you need the admin role"):
        paraphrase_eval_sets(db, support, "local", backend_for=no_model,
                             actor=Actor("viewer@example.com", Role.REVIEWER, signed_in=True))
    import_eval_set(db, "support-paraphrased", '{"id": "t1", "question": "Q?"}', "x", actor=LOCAL_ADMIN)
    with pytest.raises(InvalidInputError, match="eval set named 'support-paraphrased' exists"):
        paraphrase_eval_sets(db, support, "local", backend_for=no_model, actor=LOCAL_ADMIN)


def test_when_no_rewording_is_kept_nothing_is_stored(db, support):
    backend = ScriptedBackend(*TRAINED)  # the questions again, word for word
    with pytest.raises(InvalidInputError, match=r"None of scripted's 4 rewordings kept the question's meaning "
                                                r"\(4 the question again\)"):
        paraphrase_eval_sets(db, support, "local", backend_for=lambda _spec: backend, embed=fake_embed,
                             actor=LOCAL_ADMIN)
    with pytest.raises(NotFoundError):
        get_eval_set(db, "support-training")


@pytest.mark.slow  # the local embedding model decides
def test_the_command_line_keeps_what_the_embedder_says_means_the_same(db, support, capsys):
    # --limit 2 spreads over the four: the first and the third trained questions are asked
    with FakeServer(openai_chat("For how long does a session token stay valid?"),
                    openai_chat("What colour are the office chairs?")) as server:
        assert main(["evalset", "paraphrase", support, "--system", f"openai:served-model?base_url={server.url}/v1",
                     "--limit", "2"]) == 0
    out, err = capsys.readouterr()
    assert out == "support-training and support-paraphrased: 1 of 2 question(s) kept\n"
    assert "dropped 1: meaning drifted (cosine below 0.6)" in err
    assert [i.question for i in eval_items(db, "support-paraphrased")] == [
        "For how long does a session token stay valid?"]
