"""The rule for typed paths: only the uploads folder and the operator's folders, nothing hidden, no way out."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from core.errors import InvalidInputError, NotFoundError
from core.paths import (MAX_NAME_BYTES, model_folder, operator_paths, readable_path, readable_repository,
                        upload_file_name, uploads_dir)


@pytest.fixture
def offered(tmp_path, monkeypatch) -> Path:
    """The one folder the operator offers."""
    folder = tmp_path / "offered"
    folder.mkdir()
    monkeypatch.setenv("RAGTUNE_ALLOWED_ROOTS", str(folder))
    return folder


def test_by_default_only_the_uploads_folder_may_be_read(monkeypatch):
    monkeypatch.delenv("RAGTUNE_ALLOWED_ROOTS")
    uploads_dir().mkdir(parents=True)
    assert readable_path(uploads_dir()) == uploads_dir()
    for outside in (Path.home() / ".ssh" / "id_rsa", Path.cwd() / ".streamlit" / "secrets.toml",
                    Path.cwd() / "README.md"):
        with pytest.raises(InvalidInputError, match="outside the folders the lab may read.*RAGTUNE_ALLOWED_ROOTS"):
            readable_path(outside)


def test_an_offered_folder_may_be_read_but_nothing_beside_or_hidden_in_it(offered):
    (offered / "docs").mkdir()
    (offered / ".secrets").mkdir()
    (offered / ".secrets" / "key").write_text("k")
    assert readable_path(offered / "docs") == (offered / "docs").resolve()
    with pytest.raises(InvalidInputError, match="outside"):
        readable_path(offered / ".." / "elsewhere")
    with pytest.raises(InvalidInputError, match="hidden"):
        readable_path(offered / ".secrets" / "key")
    with pytest.raises(NotFoundError, match="does not exist"):
        readable_path(offered / "missing")


def test_a_link_in_an_offered_folder_cannot_lead_out_of_it(offered, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    (offered / "innocent.txt").symlink_to(secret)
    with pytest.raises(InvalidInputError, match="outside"):
        readable_path(offered / "innocent.txt")


def test_the_operator_may_name_any_existing_path(offered, tmp_path):
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_text("{}")
    with operator_paths():
        assert readable_path(elsewhere) == elsewhere.resolve()
    with pytest.raises(InvalidInputError, match="outside"):
        readable_path(elsewhere)


def test_a_repository_reaching_out_of_the_offered_folder_is_refused(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    docs = tmp_path / "repo" / "docs"
    docs.mkdir()
    monkeypatch.setenv("RAGTUNE_ALLOWED_ROOTS", str(docs))
    with pytest.raises(InvalidInputError, match="outside"):
        readable_repository(docs)
    monkeypatch.setenv("RAGTUNE_ALLOWED_ROOTS", str(tmp_path / "repo"))
    assert readable_repository(docs) == (tmp_path / "repo").resolve()


def test_model_folders_follow_the_rule_even_in_the_operators_shell(offered, tmp_path):
    from core.settings import get_settings

    outside = tmp_path / "model"
    outside.mkdir()
    with operator_paths(), pytest.raises(InvalidInputError, match="outside"):
        model_folder(outside)
    trained = get_settings().models_dir / "adapters" / "mine"
    trained.mkdir(parents=True)
    assert model_folder(trained) == trained.resolve()


def test_a_model_folder_with_pickled_weights_only_is_refused(offered):
    (offered / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(InvalidInputError, match="only as pytorch_model.bin.*safetensors only"):
        model_folder(offered)
    (offered / "model.safetensors").write_bytes(b"")
    assert model_folder(offered) == offered.resolve()


@pytest.mark.parametrize("sent, stored", [
    ("../x.md", "x.md"), ("../../etc/passwd", "passwd"), ("/etc/passwd", "passwd"), ("dir\\evil.txt", "evil.txt"),
    ("a\0b.txt", "ab.txt"), ("..", "upload"), (".", "upload"), ("", "upload"), (".env", "env"),
    ("...hidden.md", "hidden.md"), ("notes.md", "notes.md"),
])
def test_upload_names_stay_in_their_folder_and_are_visible(sent, stored):
    assert upload_file_name(sent, set()) == stored


def test_long_upload_names_are_cut_keeping_the_suffix():
    name = upload_file_name("é" * 300 + ".md", set())
    assert name.endswith(".md") and len(name.encode()) <= MAX_NAME_BYTES


def test_an_upload_never_replaces_another():
    assert upload_file_name("notes.md", {"notes.md"}) == "notes-2.md"
    assert upload_file_name("a/notes.md", {"notes.md", "notes-2.md"}) == "notes-3.md"
