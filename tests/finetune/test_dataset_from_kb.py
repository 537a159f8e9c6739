import json

import pytest
from tests.rag.rag_fixtures import ScriptedBackend

from core.errors import InvalidInputError, NotFoundError
from core.finetune.from_kb import examples_from_kb, kb_passages, parse_pairs, spread

FENCED = '''Here are the pairs:
```json
[{"question": "How long is a session token valid?", "answer": "One hour."},
 {"question": "What keeps revoked tokens?", "answer": "The TokenStore."}]
```'''
BARE = json.dumps([{"question": "When are invoices generated?", "answer": "On the first day of each month."},
                   {"question": "Where do refunds go?"}])


def test_pairs_from_each_chunk_keep_their_source(db, team_kb):
    passages = kb_passages(db, team_kb)
    assert [p.source for p in passages] == sorted(p.source for p in passages) and len(passages) >= 3
    backend = ScriptedBackend(FENCED, "I cannot help with that.", BARE)
    stages = []
    built = examples_from_kb(db, team_kb, backend, limit=3, pairs_per_chunk=2,
                             progress=lambda stage, fraction: stages.append((stage, fraction)))
    chosen = spread(passages, 3)
    assert (built.kb, built.model, built.chunks, built.bad_replies, built.dropped_pairs) == (
        "team", "scripted", 3, 1, 1)
    assert [e["messages"][0]["content"] for e in built.examples] == [
        "How long is a session token valid?", "What keeps revoked tokens?", "When are invoices generated?"]
    assert built.examples[0]["messages"][1] == {"role": "assistant", "content": "One hour."}
    assert [e["source"] for e in built.examples] == [f"kb:{chosen[0].location}"] * 2 + [f"kb:{chosen[2].location}"]
    prompt = backend.prompts[0]
    asked = prompt.messages[0].content
    assert chosen[0].text in asked and "2 question and answer pair(s)" in asked
    assert prompt.system and stages[0] == ("Writing pairs: 0/3 chunks", 0.0) and stages[-1] == ("Done", 1.0)


def test_no_usable_reply_at_all_is_an_error_quoting_the_first(db, team_kb):
    backend = ScriptedBackend("Sure! Questions: what is a token?", "nope")
    with pytest.raises(InvalidInputError, match=r"scripted wrote no usable question/answer pairs for 2 chunk\(s\) "
                                                r"of 'team'; its first reply began 'Sure! Questions"):
        examples_from_kb(db, team_kb, backend, limit=2)


def test_a_missing_knowledge_base_and_bad_limits(db):
    with pytest.raises(NotFoundError, match="No knowledge base named 'nope'"):
        examples_from_kb(db, "nope", ScriptedBackend())
    with pytest.raises(InvalidInputError, match="pairs per chunk between 1 and 10"):
        examples_from_kb(db, "nope", ScriptedBackend(), pairs_per_chunk=0)


@pytest.mark.parametrize("reply, pairs, dropped", [
    ('[{"question": "Q?", "answer": "A."}]', [("Q?", "A.")], 0),
    ('```\n{"question": "Q?", "answer": "A."}\n```', [("Q?", "A.")], 0),
    ('{"pairs": [{"question": "Q?", "answer": "A."}, {"question": " ", "answer": "A."}]}', [("Q?", "A.")], 1),
    ('Sure: [{"question": "Q?", "answer": "A."}] Hope this helps.', [("Q?", "A.")], 0),
    ("[1, 2]", [], 2),
    ('[{"question": "Q?", "answer": "A."}, {"question": "q?", "answer": "Again."}]', [("Q?", "A.")], 1),
    ("Question: What?\n\nAnswer: That.\n\nQuestion: What?\nAnswer: Again.", [("What?", "That.")], 1),
    ("1. **Q:** Who?\n**A:** Ada.\n2. Q: Why? A: on the same line", [("Who?", "Ada.")], 1),
    ("no JSON here", [], 0),
])
def test_replies_are_read_tolerantly(reply, pairs, dropped):
    assert parse_pairs(reply) == (pairs, dropped)


def test_spread_covers_the_whole_list():
    assert spread(list(range(10)), 3) == [0, 3, 6]
    assert spread(list(range(2)), 5) == [0, 1]
