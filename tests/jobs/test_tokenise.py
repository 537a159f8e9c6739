"""What training learns from: answer tokens only, cut to the max length, hopeless prompts refused."""

import pytest
from transformers import AutoTokenizer

from core.errors import InvalidInputError
from core.finetune.trainer import IGNORED, tokenise


def conversation(question: str, answer: str) -> dict:
    return {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": question},
                         {"role": "assistant", "content": answer}]}


@pytest.fixture
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_only_the_answer_is_labelled(tokenizer):
    [row], truncated = tokenise(tokenizer, [conversation("Capital of France?", "TL;DR: Paris.")], 256)
    assert truncated == 0
    learned = [token for token, label in zip(row["input_ids"], row["labels"]) if label != IGNORED]
    assert tokenizer.decode(learned).startswith("TL;DR: Paris.")
    prompt = tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label == IGNORED])
    assert "Capital of France?" in prompt and "Paris" not in prompt
    whole = tokenizer.apply_chat_template(conversation("Capital of France?", "TL;DR: Paris.")["messages"],
                                          tokenize=False)
    assert tokenizer.decode(row["input_ids"]) == whole


def test_long_examples_are_cut_and_counted(tokenizer):
    rows, truncated = tokenise(tokenizer, [conversation("q?", "word " * 200), conversation("q?", "short")], 64)
    assert truncated == 1
    assert len(rows[0]["input_ids"]) == len(rows[0]["labels"]) == 64


def test_a_prompt_that_fills_the_max_length_is_refused_by_number(tokenizer):
    with pytest.raises(InvalidInputError, match=r"1 example\(s\) .*#2"):
        tokenise(tokenizer, [conversation("q?", "a"), conversation("long " * 100, "a")], 64)
