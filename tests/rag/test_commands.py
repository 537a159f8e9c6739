import json

from core.cli import main


def test_kb_commands_add_search_list_reindex_remove(db, docs, capsys, monkeypatch):
    monkeypatch.chdir(docs.parent)
    assert main(["kb", "add", "team", "docs", "--chunker", "recursive", "--chunk-size", "300",
                 "--overlap", "30"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("team: 4 file(s), ") and "skipped logo.png: binary file" in err and "[100%] Done" in err

    assert main(["kb", "search", "team", "refunds to the card", "--mode", "dense", "-k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2 and hits[0]["source"] == "README.md"
    assert hits[0]["location"] == f"README.md:L{hits[0]['start_line']}-L{hits[0]['end_line']}"
    assert main(["kb", "search", "team", "refunds"]) == 0
    assert capsys.readouterr().out.startswith("1. README.md:L")

    assert main(["kb", "list"]) == 0
    assert capsys.readouterr().out.startswith("team\tready\t4 files\t")
    monkeypatch.chdir("/")  # the source path was saved absolute
    assert main(["kb", "reindex", "team"]) == 0
    assert "0 file(s) re-embedded, 4 unchanged, 0 removed" in capsys.readouterr().out
    assert main(["kb", "remove", "team"]) == 0
    assert main(["kb", "list"]) == 0
    assert capsys.readouterr().out == "removed team\n"


def test_kb_errors_are_one_line_messages(db, docs, tmp_path, capsys):
    assert main(["kb", "add", "../up", str(docs)]) == 2
    assert "not a valid knowledge base name" in capsys.readouterr().err
    assert main(["kb", "add", "repo", str(docs), "--git-rev", "HEAD"]) == 2
    assert "is not a git repository" in capsys.readouterr().err
    assert main(["kb", "add", "wide", str(docs), "--neighbours", "4"]) == 2
    assert "neighbours must be between 0 and 3, not 4" in capsys.readouterr().err
    assert main(["kb", "search", "missing", "query"]) == 2
    assert capsys.readouterr().err == "error: No knowledge base named 'missing'; `python -m core kb list` shows them.\n"
