"""The Knowledge page driven through Streamlit's AppTest, on a real index."""

import pytest
from streamlit.testing.v1 import AppTest

from core.jobs import queue
from core.rag.knowledge import get_knowledge_base
from core.store import current_database
from tests.pages.conftest import APP_PATH
from tests.training_fixtures import wait_until


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_ALLOWED_ROOTS", str(tmp_path))
    monkeypatch.delenv("CHROMA_URL", raising=False)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "billing.md").write_text("# Billing\n\nRefunds are issued to the original card within five days.\n")
    (docs / "auth.py").write_text('def refresh_token(token):\n    """Refresh a session token."""\n'
                                  "    return token\n\n\ndef revoke(token):\n    return None\n")
    (docs / "blob.bin").write_bytes(b"\0\1\2")
    return docs


def knowledge_page() -> AppTest:
    at = AppTest.from_file(APP_PATH, default_timeout=180)
    at.run()
    at.switch_page("pages/knowledge.py")
    return at.run()


def texts(elements) -> list[str]:
    return [e.value for e in elements]


@pytest.mark.slow  # the embedding model, loaded by a worker or the CLI
def test_create_search_preview_reindex_and_delete(folder):
    at = knowledge_page()
    assert texts(at.info) == ["No knowledge base yet: create one below."]
    at.text_input(key="kb_name").input("team")
    at.text_input(key="kb_path").input(str(folder))
    at.selectbox(key="kb_chunker").select("recursive")
    at.number_input(key="kb_neighbours").set_value(1)
    at.button(key="kb_create").click().run()
    assert not at.exception and not at.error
    assert get_knowledge_base(current_database(), "team").config["neighbours"] == 1
    assert texts(at.success)[0].startswith("Indexing team in the background (job 1)")  # the page returned at once
    at.text_input(key="kb_query").input("refunds").run()  # while the job has only started
    assert "has no index yet: its first index job is still running" in texts(at.error)[0]
    at.text_input(key="kb_query").input("").run()
    wait_until(current_database(), 1, [queue.SUCCEEDED])
    at = knowledge_page()
    assert "2 chunk(s) in" in " ".join(texts(at.caption))  # the job's outcome
    table = at.dataframe[0].value
    assert list(table["Name"]) == ["team"] and list(table["Status"]) == ["ready"]
    assert list(table["Chunker"]) == ["recursive"] and list(table["Neighbours"]) == [1]
    assert at.selectbox(key="kb_selected").value == "team"
    assert at.expander[0].label == "1 file(s) skipped"  # blob.bin, listed with its reason

    at.text_input(key="kb_query").input("refunds to the card").run()
    markdown = " ".join(texts(at.markdown))
    for mode in ("dense", "bm25", "hybrid"):
        assert f"**{mode}**" in markdown
    assert markdown.count("`billing.md:L1-L3`") == 3  # every mode's first hit

    at.text_input(key="kb_preview_path").input(str(folder / "auth.py"))
    at.selectbox(key="kb_preview_chunker").select("code")
    at.number_input(key="kb_preview_size").set_value(100)
    at.number_input(key="kb_preview_overlap").set_value(0)
    at.button(key="kb_preview").click().run()
    assert not at.error, texts(at.error)
    assert "2 chunk(s)" in texts(at.caption)
    assert list(at.dataframe[-1].value["Lines"]) == ["1-3", "6-7"]

    at.button(key="kb_reindex").click().run()
    assert texts(at.success)[0] == "Re-indexing team in the background (job 2)."
    assert wait_until(current_database(), 2, [queue.SUCCEEDED]).result["reused_files"] == 2  # nothing changed
    at.run()

    at.checkbox(key="kb_confirm_delete").check().run()
    at.button(key="kb_delete").click().run()
    assert texts(at.success) == ["Deleted team."]
    assert texts(at.info) == ["No knowledge base yet: create one below."]


def test_bad_input_is_shown_as_a_message(folder, tmp_path):
    at = knowledge_page()
    at.text_input(key="kb_name").input("../escape")
    at.text_input(key="kb_path").input(str(folder))
    at.button(key="kb_create").click().run()
    assert "not a valid knowledge base name" in at.error[0].value
    at.text_input(key="kb_name").input("team")
    at.text_input(key="kb_path").input("/etc")
    at.button(key="kb_create").click().run()
    assert "outside the folders the lab may read" in at.error[0].value
    (tmp_path / "empty").mkdir()
    at.text_input(key="kb_path").input(str(tmp_path / "empty"))
    at.button(key="kb_create").click().run()
    assert "No readable text files" in at.error[0].value
    assert not at.exception
    assert texts(at.info) == ["No knowledge base yet: create one below."]


def test_by_default_the_page_reads_no_file_of_the_server(monkeypatch):
    monkeypatch.delenv("RAGTUNE_ALLOWED_ROOTS")  # as `make app` starts it
    at = knowledge_page()
    for path in ("README.md", "~/.ssh/id_rsa", ".streamlit/secrets.toml"):
        at.text_input(key="kb_preview_path").input(path)
        at.button(key="kb_preview").click().run()
        assert "outside the folders the lab may read" in at.error[0].value
        assert "RAGTUNE_ALLOWED_ROOTS" in at.error[0].value
        assert not at.dataframe
