"""Bad command lines: `python -m core` answers every bad argument with exit code 2 and one line on stderr
saying what to fix (argparse's usage error, or a `LabError` turned into `error: ...`), never a traceback,
and nothing is started or lost: no job is queued, and the eval set saved before is unchanged.

One table; each row is one distinct bad command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.access import LOCAL_ADMIN
from core.cli import main
from core.evaluation.sets import eval_items, import_eval_set
from core.finetune.datasets import list_datasets
from core.jobs import queue
from core.rag.knowledge import list_knowledge_bases

pytestmark = pytest.mark.reliability

SAVED_SET = "".join(json.dumps({"id": f"q{i}", "question": f"Question {i}?"}) + "\n" for i in range(3))
BAD_COMMAND_LINES = [  # {tmp} is the test's folder, holding binary.jsonl, empty.jsonl and good.jsonl
    pytest.param(["bogus"], "invalid choice: 'bogus'", id="unknown-command"),
    pytest.param(["evalset", "show", "support\udcff"], "error: the argument 'support\\udcff' holds bytes that are "
                 "not UTF-8 text", id="name-not-utf-8"),  # how Python passes the shell's byte 0xff on
    pytest.param(["ask", "local?kb=docs\udcff", "hi"], "holds bytes that are not UTF-8 text", id="spec-not-utf-8"),
    pytest.param(["kb"], "the following arguments are required: COMMAND", id="missing-subcommand"),
    pytest.param(["kb", "add", "docs"], "the following arguments are required: path", id="kb-add-without-path"),
    pytest.param(["kb", "add", "docs", "{tmp}", "--chunk-size", "big"], "argument --chunk-size: invalid int value: "
                 "'big'", id="kb-chunk-size-a-word"),
    pytest.param(["kb", "add", "docs", "{tmp}", "--chunk-size", "5"], "error: chunk_size must be between 100 and "
                 "20000 characters, not 5.", id="kb-chunk-size-tiny"),
    pytest.param(["kb", "add", "docs", "{tmp}", "--overlap", "-1"], "error: chunk_overlap must be at least 0",
                 id="kb-overlap-negative"),
    pytest.param(["kb", "add", "docs", "{tmp}", "--neighbours", "9"], "error: neighbours must be between 0 and 3",
                 id="kb-too-many-neighbours"),
    pytest.param(["kb", "add", "docs", "{tmp}", "--max-file-mb", "0"], "error: --max-file-mb must be a number of "
                 "megabytes above 0, not 0.0.", id="kb-file-limit-zero"),
    pytest.param(["kb", "add", "docs", "{tmp}", "--max-file-mb", "nan"], "error: --max-file-mb must be a number of "
                 "megabytes above 0, not nan.", id="kb-file-limit-nan"),
    pytest.param(["kb", "add", "docs", "{tmp}", "--max-file-mb", "inf"], "not inf.", id="kb-file-limit-infinite"),
    pytest.param(["kb", "add", "docs", "{tmp}", "--chunker", "magic"], "argument --chunker: invalid choice: 'magic'",
                 id="kb-unknown-chunker"),
    pytest.param(["kb", "add", "docs", "{tmp}", "--git-rev", " "], "error: git_rev is empty", id="kb-blank-revision"),
    pytest.param(["kb", "add", "../docs", "{tmp}"], "error: '../docs' is not a valid knowledge base name",
                 id="kb-name-traversal"),
    pytest.param(["kb", "add", "docs", "{tmp}/missing"], "missing does not exist: check the path.",
                 id="kb-missing-folder"),
    pytest.param(["kb", "search", "nope", "refunds"], "error: No knowledge base named 'nope'", id="kb-search-unknown"),
    pytest.param(["dataset", "import", "{tmp}/empty.jsonl"], "the following arguments are required: --name",
                 id="dataset-without-name"),
    pytest.param(["dataset", "import", "{tmp}/missing.jsonl", "--name", "x"], "missing.jsonl does not exist",
                 id="dataset-missing-file"),
    pytest.param(["dataset", "import", "{tmp}/binary.jsonl", "--name", "x"], "error: binary.jsonl is not UTF-8 text "
                 "(line 1): re-save it as UTF-8.", id="dataset-binary-file"),
    pytest.param(["dataset", "import", "{tmp}/empty.jsonl", "--name", "x"], "error: empty.jsonl is empty",
                 id="dataset-empty-file"),
    pytest.param(["dataset", "import", "{tmp}", "--name", "x"], "cannot be read: Is a directory.",
                 id="dataset-a-folder"),
    pytest.param(["dataset", "import", "{tmp}/good.jsonl", "--name", "x", "--validation-fraction", "0.9"],
                 "error: The validation fraction must be over 0 and at most 0.5, not 0.9.", id="dataset-fraction-high"),
    pytest.param(["dataset", "import", "{tmp}/good.jsonl", "--name", "x", "--validation-fraction", "nan"],
                 "at most 0.5, not nan.", id="dataset-fraction-nan"),
    pytest.param(["dataset", "import", "{tmp}/good.jsonl", "--name", "x", "--seed", "1.5"],
                 "argument --seed: invalid int value: '1.5'", id="dataset-seed-fraction"),
    pytest.param(["dataset", "show", "x", "--examples", "-1"], "error: --examples must be 0 or more.",
                 id="dataset-show-negative-examples"),
    pytest.param(["dataset", "from-kb", "docs", "--name", "x", "--system", "local", "--limit", "0"],
                 "error: limit must be at least 1 and pairs per chunk between 1 and 10.", id="dataset-from-kb-limit"),
    pytest.param(["dataset", "from-git", "{tmp}", "--name", "x", "--max-commits", "0"],
                 "error: max_diff_chars and max_commits must be at least 1.", id="dataset-from-git-no-commits"),
    pytest.param(["evalset", "import", "{tmp}/binary.jsonl", "--name", "support"], "cannot be read as UTF-8 text",
                 id="evalset-binary-over-a-saved-set"),
    pytest.param(["evalset", "import", "{tmp}/empty.jsonl", "--name", "support"], "it holds no questions",
                 id="evalset-empty-over-a-saved-set"),
    pytest.param(["evalset", "import", "{tmp}/good.jsonl", "--name", "support"], "error: An eval set named 'support' "
                 "exists", id="evalset-name-taken"),
    pytest.param(["evalset", "import", "{tmp}/good.jsonl", "--name", "../x"], "is not a valid eval set name",
                 id="evalset-name-traversal"),
    pytest.param(["evalset", "import", "{tmp}/missing.jsonl"], "error: No eval set file", id="evalset-missing-file"),
    pytest.param(["evalset", "show", "nope"], "error: No eval set named 'nope' (known: support)",
                 id="evalset-show-unknown"),
    pytest.param(["train", "ds", "--lora-r", "0"], "lora_r must be at least 1 (it is 0)", id="train-rank-zero"),
    pytest.param(["train", "ds", "--epochs", "nan"], "epochs must be a finite number, not nan", id="train-epochs-nan"),
    pytest.param(["train", "ds", "--lr", "2"], "learning_rate must be between 0 and 1 (it is 2.0)", id="train-lr-high"),
    pytest.param(["train", "ds", "--precision", "fp8"], "precision 'fp8' is not one of", id="train-unknown-precision"),
    pytest.param(["train", "ds", "--max-steps", "-1"], "set epochs or max_steps to more than 0",
                 id="train-negative-steps"),
    pytest.param(["train", "ds", "--batch-size", "abc"], "argument --batch-size: invalid int value: 'abc'",
                 id="train-batch-size-a-word"),
    pytest.param(["train", "nods"], "error: No dataset named 'nods'", id="train-unknown-dataset"),
    pytest.param(["ask", "local", "  "], "error: The question is empty", id="ask-blank-question"),
    pytest.param(["ask", "bogus", "hi"], "error: Unknown backend 'bogus'", id="ask-unknown-backend"),
    pytest.param(["ask", "local", "hi", "--max-new-tokens", "0"], "--max-new-tokens must be at least 1",
                 id="ask-no-new-tokens"),
    pytest.param(["ask", "local", "hi", "--temperature", "nan"], "--temperature must be a finite number",
                 id="ask-temperature-nan"),
    pytest.param(["eval", "run", "--set", "support"], "error: No system to evaluate", id="eval-without-system"),
    pytest.param(["eval", "run", "--set", "nope", "--system", "local"], "No eval set named 'nope'",
                 id="eval-unknown-set"),
    pytest.param(["eval", "run", "--set", "support", "--system", "local", "--limit", "0"],
                 "A question limit must be at least 1", id="eval-limit-zero"),
    pytest.param(["eval", "run", "--set", "support", "--system", "local", "--batch-size", "0"],
                 "max_new_tokens and batch_size must be at least 1", id="eval-batch-zero"),
    pytest.param(["eval", "run", "--set", "support", "--system", "local", "--temperature", "nan"],
                 "temperature must be a number of 0 or more (0 answers greedily), not nan.", id="eval-temperature-nan"),
    pytest.param(["eval", "run", "--set", "support", "--system", "local?kb=nope"],
                 "answers from a knowledge base that does not exist", id="eval-system-unknown-kb"),
    pytest.param(["eval", "run", "--set", "support", "--system", "local", "--judge", "gemini"],
                 "Unknown backend 'gemini'", id="eval-unknown-judge"),
    pytest.param(["eval", "run", "--set", "support", "--system", "local", "--fail-under", "f1"],
                 "--fail-under 'f1' is not METRIC=NUMBER", id="eval-threshold-without-value"),
    pytest.param(["eval", "run", "--set", "support", "--system", "local", "--metric", "vibes"],
                 "argument --metric: invalid choice: 'vibes'", id="eval-unknown-metric"),
    pytest.param(["eval", "show", "abc"], "argument id: invalid int value: 'abc'", id="eval-show-id-a-word"),
    pytest.param(["eval", "show", "999"], "error: No eval run 999", id="eval-show-unknown-run"),
    pytest.param(["jobs", "cancel", "-3"], "error: No job -3", id="jobs-cancel-negative-id"),
    pytest.param(["serve", "--port", "70000"], "error: --port must be from 0 to 65535", id="serve-port-too-high"),
    pytest.param(["serve", "--port", "-1"], "(0 picks a free port), not -1.", id="serve-port-negative"),
    pytest.param(["serve", "--host", "0.0.0.0"], "listens on this machine only", id="serve-on-every-address"),
    pytest.param(["serve", "--memory-gb", "-1"], "error: --memory-gb must be more than 0.", id="serve-memory-negative"),
    pytest.param(["demo", "nope"], "argument name: invalid choice: 'nope'", id="demo-unknown"),
    pytest.param(["adapter", "remove", "nope"], "error: No adapter named 'nope'", id="adapter-remove-unknown"),
    pytest.param(["report", "999"], "error: Decision session #999 does not exist", id="report-unknown-session"),
]


@pytest.fixture
def files(tmp_path) -> Path:
    (tmp_path / "binary.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "good.jsonl").write_text(json.dumps({"id": "q1", "question": "New?"}) + "\n")
    return tmp_path


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """The exit code and stderr of `python -m core ARGV`, run in this process."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv, message", BAD_COMMAND_LINES)
def test_a_bad_command_line_exits_2_with_one_line_saying_why(db, files, capsys, argv, message):
    import_eval_set(db, "support", SAVED_SET, "support.jsonl", actor=LOCAL_ADMIN)
    code, stderr = run_cli([part.replace("{tmp}", str(files)) for part in argv], capsys)
    last_line = stderr.strip().splitlines()[-1]
    assert (code, "Traceback" in stderr) == (2, False), stderr
    assert message in last_line and last_line.startswith(("error: ", "python -m core")), stderr
    assert [(item.item_id, item.question) for item in eval_items(db, "support")] == \
        [(f"q{i}", f"Question {i}?") for i in range(3)]
    assert (queue.list_jobs(db), list_knowledge_bases(db), list_datasets(db)) == ([], [], [])
