"""No API key is ever written down.

Fake keys sit in the environment (the services' own variables and a `key_env` one the operator listed) and in
Streamlit secrets. Every backend answers or fails (a 401 echoing the key, a 400 echoing it, a timeout) behind
local fake servers, the local model through the model server: in the page, the Playground and every job kind
cheap enough to run here (an eval judged by an API, pairwise, index, train, merge, kb_dataset). Then nothing
the lab wrote may hold a key: every value of every table, every job's row, log and JSON, the exported reports,
every file under the data and models dirs.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Iterator

import pytest

from core.access import LOCAL_ADMIN
from core.checklist.sessions import create_session
from core.cli import main
from core.errors import BackendError
from core.evaluation.pairwise import submit_pairwise
from core.evaluation.runs import RunOptions, results, submit_eval
from core.evaluation.sets import import_eval_set
from core.finetune.builders import Split
from core.finetune.job import submit_training
from core.finetune.kb_dataset_job import submit_kb_dataset
from core.finetune.merge_job import submit_merge
from core.jobs import queue, scheduler
from core.llm.base import GenerationOptions, Prompt
from core.llm.spec import parse_spec
from core.playground import ask_and_save
from core.rag.config import KnowledgeBaseConfig
from core.rag.index_job import submit_index
from core.serving.lifecycle import health, start_server, stop_server
from core.settings import get_settings
from core.systems import build_system
from tests.llm.fake_servers import FakeServer, Reply, anthropic_message, openai_chat
from tests.pages.conftest import open_page
from tests.rag.rag_fixtures import AUTH_PY, README_MD
from tests.training_fixtures import wait_until

pytestmark = pytest.mark.reliability

ENV_KEYS = {"ANTHROPIC_API_KEY": "sk-ant-api03-LEAKCHECK-anthropic-7f3a9c0e",
            "OPENAI_API_KEY": "sk-proj-LEAKCHECK-openai-4b8e1d2f",
            "PROXY_KEY": "sk-LEAKCHECK-proxy-c2d5e6a7"}
SECRET_KEYS = {"PAGE_PROXY_KEY": "sk-LEAKCHECK-page-secret-9a1b3c4d"}  # only in the dashboard's secrets
ALL_KEYS = {**ENV_KEYS, **SECRET_KEYS}
PAIRS = json.dumps([{"question": "How long is a session token valid?", "answer": "One hour."}])
ITEMS = "\n".join(json.dumps({"id": f"q{n}", "question": f"Team price {n}?", "reference_answer": "$9."})
                  for n in range(2))
ENDED = (queue.SUCCEEDED, queue.FAILED, queue.CANCELLED, queue.INTERRUPTED)


def claude_reply(request: dict) -> Reply:
    """What a Claude behind a proxy answers: a verdict to the judge's prompts, an answer to anything else."""
    prompt = request["messages"][0]["content"]
    if "Answer A:" in prompt:
        return anthropic_message('{"winner": "A", "reason": "A is closer to the reference."}')
    if "Reference answer:" in prompt:
        return anthropic_message('{"score": 4, "reason": "Right price."}')
    return anthropic_message("It is $9.")


def echoing(status: int, key: str) -> Reply:
    """A proxy's refusal that repeats the key it was sent (some do, in full)."""
    return Reply(status=status, body={"type": "error", "error": {
        "type": "authentication_error" if status == 401 else "invalid_request_error",
        "message": f"Invalid proxy token passed. Received API Key = {key}"}})


@pytest.fixture
def keys(monkeypatch):
    for name, key in ENV_KEYS.items():
        monkeypatch.setenv(name, key)
    monkeypatch.setenv("RAGTUNE_KEY_ENVS", ",".join(ALL_KEYS))  # so fake servers may be sent every key
    monkeypatch.setenv(scheduler.MAX_JOBS_ENV, "4")


@pytest.fixture
def servers():
    with ExitStack() as stack:
        yield {name: stack.enter_context(FakeServer(*replies)) for name, replies in {
            "claude": (claude_reply,), "openai": (openai_chat(PAIRS),),
            "refusing": (echoing(401, ENV_KEYS["PROXY_KEY"]),),
            "echoing": (echoing(400, ENV_KEYS["OPENAI_API_KEY"]),),
            "slow": (Reply(body=openai_chat("late").body, delay_s=2.0),)}.items()}


@pytest.fixture
def model_server(keys):
    """The local model server, started with the keys in its environment (its log is scanned too)."""
    yield start_server()
    stop_server()


def system_specs(servers: dict[str, FakeServer], tiny_model_dir: Path) -> dict[str, str]:
    once = "max_retries=0"
    return {
        "local": f"local:{tiny_model_dir}?dtype=float32",
        "claude": f"anthropic:claude-sonnet-4-5?base_url={servers['claude'].url}&key_env=ANTHROPIC_API_KEY&{once}",
        "openai": f"openai:gpt-4.1-mini?base_url={servers['openai'].url}/v1&key_env=OPENAI_API_KEY&{once}",
        "refusing": f"anthropic:claude-haiku-4-5?base_url={servers['refusing'].url}&key_env=PROXY_KEY&{once}",
        "echoing": f"openai:echo?base_url={servers['echoing'].url}/v1&key_env=OPENAI_API_KEY&{once}",
        "slow": f"openai:slow?base_url={servers['slow'].url}/v1&key_env=PROXY_KEY&timeout=0.5&{once}",
    }


def test_no_key_is_written_anywhere_after_every_backend_and_job_kind_ran_and_failed(
        db, keys, servers, model_server, training, tiny_model_dir, tmp_path, capsys):
    specs = system_specs(servers, tiny_model_dir)
    room = create_session(db, "Support bot", actor=LOCAL_ADMIN)
    page_asks_with_a_secret_key(servers["openai"])
    systems = list(specs.values())
    for asked, failing in ((systems[:3], False), (systems[3:], True)):  # the Playground compares up to 4
        answers = ask_and_save(db, "Team price?", asked, GenerationOptions(max_new_tokens=4), actor=LOCAL_ADMIN).answers
        assert [bool(answer.error) for answer in answers] == [failing] * 3, [answer.error for answer in answers]
    assert [model["spec"] for model in health(model_server.url)["models"]] == [parse_spec(specs["local"]).text]
    jobs = run_every_job_kind(db, specs, training, tiny_model_dir, tmp_path, room.id)
    assert_keys_were_sent(servers)
    exports = export_everything(db, room.id, jobs, tmp_path / "exports", capsys)

    written = [*database_texts(db), *job_texts(jobs), *exports, *file_texts(get_settings().data_dir),
               *file_texts(get_settings().models_dir)]
    assert len(written) > 100
    assert all(any(said in text for _, text in written) for said in ("HTTP 401", "[API key hidden]", "in time"))
    assert not [(where, name) for where, text in written for name, key in ALL_KEYS.items() if key in text]


@pytest.mark.parametrize("spec, key", [("anthropic:claude-sonnet-4-5?base_url={url}&key_env=PROXY_KEY", "PROXY_KEY"),
                                       ("openai:served?base_url={url}/v1&key_env=OPENAI_API_KEY", "OPENAI_API_KEY")])
def test_a_refusal_that_repeats_the_key_is_reported_without_it(keys, spec, key):
    with FakeServer(echoing(400, ENV_KEYS[key])) as server:
        with pytest.raises(BackendError) as refused:
            build_system(parse_spec(spec.format(url=server.url) + "&max_retries=0")).generate(Prompt.ask("Hi?"))
    assert "Received API Key = [API key hidden]" in str(refused.value) and ENV_KEYS[key] not in str(refused.value)


def page_asks_with_a_secret_key(server: FakeServer) -> None:
    """The Playground page, its key in Streamlit secrets only, asks the fake OpenAI-compatible server."""
    at = open_page("pages/playground.py", timeout=60)
    for name, key in SECRET_KEYS.items():
        at.secrets[name] = key
    at.multiselect(key="playground_systems").set_value(
        [f"openai:page-model?base_url={server.url}/v1&key_env=PAGE_PROXY_KEY&max_retries=0"])
    at.text_area(key="playground_question").input("Team price?")
    at.button[0].click()
    at = at.run()
    assert not at.exception and not at.error, [error.value for error in at.error]


def run_every_job_kind(db, specs: dict[str, str], training, tiny_model_dir: Path, tmp_path: Path,
                       session_id: int) -> list:
    """Index, train and an eval judged by an API; then, on what they made, pairwise, merge and two
    kb_dataset jobs (one whose server refuses the key). Returns every job row."""
    import_eval_set(db, "prices", ITEMS, "test", actor=LOCAL_ADMIN)
    run = submit_eval(db, "prices", list(specs.values()), ["token_f1"], RunOptions(max_new_tokens=4),
                      judge=specs["claude"], decision_session_id=session_id, actor=LOCAL_ADMIN)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "auth.py").write_text(AUTH_PY)
    (tmp_path / "docs" / "README.md").write_text(README_MD)
    _, index = submit_index(db, "docs", KnowledgeBaseConfig(source_path=str(tmp_path / "docs")), actor=LOCAL_ADMIN)
    first = [run.job_id, submit_training(db, training("secret-check"), LOCAL_ADMIN).id, index.id]
    assert [wait_until(db, job_id, ENDED).status for job_id in first] == [queue.SUCCEEDED] * 3
    split = Split(base=str(tiny_model_dir))
    second = [submit_pairwise(db, run.id, specs["local"], specs["openai"], specs["claude"], actor=LOCAL_ADMIN).id,
              submit_merge(db, "secret-check", actor=LOCAL_ADMIN).id,
              submit_kb_dataset(db, "qa", "docs", specs["openai"], limit=2, pairs_per_chunk=1, split=split,
                                actor=LOCAL_ADMIN).id,
              submit_kb_dataset(db, "qa-refused", "docs", specs["refusing"], limit=2, split=split,
                                actor=LOCAL_ADMIN).id]
    ends = [wait_until(db, job_id, ENDED) for job_id in second]
    assert [job.status for job in ends] == [queue.SUCCEEDED] * 3 + [queue.FAILED], [job.error for job in ends]
    assert "HTTP 401" in ends[-1].error
    assert any("did not answer in time" in (answer.error or "") for answer in results(db, run.id))
    return queue.list_jobs(db)


def assert_keys_were_sent(servers: dict[str, FakeServer]) -> None:
    """Each key really reached its server: the scan below looks for keys the lab did hold."""
    sent = {name: " ".join(f"{r['headers'].get('x-api-key', '')} {r['headers'].get('authorization', '')}"
                           for r in server.requests) for name, server in servers.items()}
    expected = {"claude": ["ANTHROPIC_API_KEY"], "openai": ["OPENAI_API_KEY", "PAGE_PROXY_KEY"],
                "refusing": ["PROXY_KEY"], "echoing": ["OPENAI_API_KEY"], "slow": ["PROXY_KEY"]}
    assert {name: [key for key in names if ALL_KEYS[key] in sent[name]] for name, names in expected.items()} == expected


def export_everything(db, session_id: int, jobs, folder: Path, capsys) -> list[tuple[str, str]]:
    """Every report and JSON the lab exports, as (where, text)."""
    folder.mkdir()
    commands = [["report", str(session_id), "--html", str(folder / "report.html"), "--csv", str(folder / "report.csv"),
                 "--md", str(folder / "report.md")], ["checklist", "export", str(session_id), "-o",
                                                       str(folder / "checklist.md")],
                ["eval", "list", "--json"], ["runs", "list", "--json"], ["jobs", "list", "--json"]]
    run_ids = {job.config["run_id"] for job in jobs if "run_id" in job.config}
    commands += [["eval", "show", str(run_id), "--json"] for run_id in run_ids]
    commands += [command for job in jobs for command in (["jobs", "show", str(job.id), "--json"],
                                                         ["jobs", "logs", str(job.id)])]
    capsys.readouterr()
    assert [main(command) for command in commands] == [0] * len(commands)
    printed = capsys.readouterr()
    return [("printed by the CLI", printed.out + printed.err), *file_texts(folder)]


def database_texts(db) -> Iterator[tuple[str, str]]:
    """Every value of every table, as text."""
    with db.engine.connect() as connection:
        tables = [row[0] for row in connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in connection.exec_driver_sql(f'SELECT * FROM "{table}"'):
                yield f"table {table}", " ".join(str(value) for value in row)


def job_texts(jobs) -> Iterator[tuple[str, str]]:
    for job in jobs:
        yield f"job {job.id} row", job.model_dump_json()
        if job.log_path and Path(job.log_path).is_file():
            yield f"job {job.id} log", Path(job.log_path).read_text(errors="replace")


def file_texts(root: Path) -> Iterator[tuple[str, str]]:
    """Every file under `root` (links to folders not followed: the shared model cache), bytes as latin-1."""
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.is_file():
                yield str(path), path.read_bytes().decode("latin-1")
