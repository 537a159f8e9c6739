import json

from tests.finetune.dataset_fixtures import commit
from tests.llm.fake_servers import FakeServer, openai_chat
from tests.rag.rag_fixtures import git

from core.cli import main
from core.finetune.datasets import datasets_dir

ALPACA = [{"instruction": f"Write the house greeting for customer {name}.", "output": f"Hello {name}, thanks!"}
          for name in ("Ada", "Grace", "Linus", "Barbara", "Ken")]


def write_jsonl(path, records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_import_list_show_remove(db, base, tmp_path, capsys):
    path = write_jsonl(tmp_path / "greetings.jsonl", ALPACA)
    assert main(["dataset", "import", path, "--name", "greetings", "--validation-fraction", "0.2",
                 "--seed", "7", "--base", base]) == 0
    out = capsys.readouterr().out
    assert out.startswith("greetings: 4 train / 1 validation example(s) (alpaca); tokens p50 ")
    assert out.endswith("; 0 possible leak(s)\n")

    assert main(["dataset", "list"]) == 0
    assert capsys.readouterr().out.startswith("greetings\timport\talpaca\t4 train\t1 validation\t0 possible leak(s)\t")
    assert main(["dataset", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["name"], listed["train_count"], listed["details"]["file"]) == ("greetings", 4, "greetings.jsonl")

    assert main(["dataset", "show", "greetings", "--examples", "1"]) == 0
    shown = capsys.readouterr().out
    assert "source: import (alpaca)" in shown and "examples: 4 train, 1 validation" in shown
    assert "seed=7" in shown and "possible leaks: 0" in shown and "\n--- example 1\nuser: Write the house" in shown
    assert main(["dataset", "show", "greetings", "--json", "--examples", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["details"]["token_lengths"]["count"] == 5 and len(data["examples"]) == 2

    assert main(["dataset", "remove", "greetings"]) == 0
    assert capsys.readouterr().out == "removed greetings\n"
    assert main(["dataset", "show", "greetings"]) == 2
    assert capsys.readouterr().err == ("error: No dataset named 'greetings'; "
                                       "`python -m core dataset list` shows them.\n")


def test_a_bad_file_imports_nothing(db, base, tmp_path, capsys):
    path = write_jsonl(tmp_path / "bad.jsonl", ALPACA[:2] + [{"instruction": "Greet Ada."}])
    assert main(["dataset", "import", path, "--name", "bad", "--base", base]) == 2
    assert capsys.readouterr().err == ("error: bad.jsonl has 1 problem(s), so nothing was saved; fix them and "
                                       "try again:\n- line 3: 'output' (or 'response') is missing\n")
    assert main(["dataset", "list"]) == 0
    assert capsys.readouterr().out == "" and not datasets_dir().exists()
    good = write_jsonl(tmp_path / "good.jsonl", ALPACA)
    assert main(["dataset", "import", good, "--name", "ok", "--base", base]) == 0
    assert main(["dataset", "import", good, "--name", "ok", "--base", base]) == 2
    assert "A dataset named 'ok' exists" in capsys.readouterr().err


def test_from_git(db, base, tmp_path, capsys):
    repo = tmp_path / "app"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "app.py", "print('hello')\n", "Print a greeting when the app starts")
    commit(repo, "app.py", "print('hello world')\n", "Greet the whole world on start-up")
    commit(repo, "app.py", "print('hello world!')\n", "typo")
    assert main(["dataset", "from-git", str(repo), "--name", "history", "--base", base]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("history: 1 train / 1 validation example(s) (commit_diff);")
    assert err == "skipped 1 commit(s): trivial message\n"
    assert main(["dataset", "from-git", str(tmp_path), "--name", "nothing", "--base", base]) == 2
    assert "is not a git repository" in capsys.readouterr().err


def test_from_kb_with_a_system_behind_an_openai_compatible_server(db, base, team_kb, capsys):
    pairs = json.dumps([{"question": "How long is a session token valid?", "answer": "One hour."}])
    with FakeServer(openai_chat(f"```json\n{pairs}\n```"), openai_chat("no idea")) as server:
        assert main(["dataset", "from-kb", team_kb, "--system", f"openai:served-model?base_url={server.url}/v1",
                     "--name", "team-qa", "--limit", "2", "--pairs-per-chunk", "1", "--base", base]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("team-qa: 1 train / 0 validation example(s) (qa_pairs);")
    assert "unusable: 1 reply(ies), 0 pair(s)" in err and "[succeeded] Done" in err  # a job, followed to its end
    assert len(server.requests) == 2 and "Passage:" in server.requests[0]["json"]["messages"][-1]["content"]
    assert main(["dataset", "show", "team-qa", "--json", "--examples", "1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["examples"][0]["source"].startswith("kb:")
    assert (shown["details"]["kb"], shown["details"]["chunks"], shown["details"]["bad_replies"]) == ("team", 2, 1)


def test_names_and_knowledge_bases_are_checked_before_any_model_is_asked(db, base, team_kb, tmp_path, capsys):
    assert main(["dataset", "import", write_jsonl(tmp_path / "a.jsonl", ALPACA), "--name", "taken",
                 "--base", base]) == 0
    capsys.readouterr()
    dead = "openai:m?base_url=http://127.0.0.1:9/v1&max_retries=0"
    assert main(["dataset", "from-kb", team_kb, "--system", dead, "--name", "taken", "--base", base]) == 2
    assert "A dataset named 'taken' exists" in capsys.readouterr().err
    assert main(["dataset", "from-kb", "missing", "--system", "local", "--name", "new", "--base", base]) == 2
    assert "No knowledge base named 'missing'" in capsys.readouterr().err
    assert main(["dataset", "from-git", str(tmp_path), "--name", "../x"]) == 2
    assert "'../x' is not a valid dataset name" in capsys.readouterr().err
