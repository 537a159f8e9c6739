import os

import pytest
from tests.rag.rag_fixtures import git

from core.errors import InvalidInputError
from core.rag.config import KnowledgeBaseConfig, validate_name
from core.rag.loaders import load_folder, load_git

MB = 1_000_000


def skipped(result) -> dict[str, str]:
    return {s.path: s.reason for s in result.skipped}


def test_folder_yields_text_of_each_format_and_skips_tooling_folders(docs):
    result = load_folder(docs, 2 * MB)
    texts = {f.path: f.text for f in result.files}
    assert set(texts) == {"src/auth.py", "README.md", "guide.html", "policy.pdf"}
    assert "blue-green strategy" in texts["guide.html"] and "tracking" not in texts["guide.html"]
    assert "rotated every ninety days" in texts["policy.pdf"]
    assert skipped(result) == {"logo.png": "binary file (contains NUL bytes)"}


def test_bad_files_are_skipped_with_a_reason_and_good_ones_kept(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "ok.md").write_text("fine")
    (folder / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    with open(folder / "huge.log", "wb") as f:  # sparse: 200 MB on paper, nothing written
        f.truncate(200 * MB)
    os.symlink(folder / "gone.txt", folder / "dangling.txt")
    result = load_folder(folder, 2 * MB)
    reasons = skipped(result)
    assert [f.path for f in result.files] == ["ok.md"]
    assert reasons["huge.log"] == "200.0 MB, over the 2.0 MB limit per file"
    assert reasons["latin1.txt"].startswith("not UTF-8 text (invalid byte at offset 3)")
    assert reasons["dangling.txt"].startswith("cannot be read: No such file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_is_skipped(tmp_path):
    (tmp_path / "ok.txt").write_text("fine")
    (tmp_path / "secret.txt").write_text("hidden")
    (tmp_path / "secret.txt").chmod(0)
    assert skipped(load_folder(tmp_path, MB))["secret.txt"].startswith("cannot be read: Permission denied")


def test_hidden_files_and_folders_are_never_read(tmp_path):
    (tmp_path / "notes.md").write_text("visible")
    (tmp_path / ".env").write_text("API_KEY=secret")
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_rsa").write_text("private key")
    (tmp_path / "docs" / ".cache").mkdir(parents=True)
    (tmp_path / "docs" / ".cache" / "x.md").write_text("cached")
    result = load_folder(tmp_path, MB)
    assert [f.path for f in result.files] == ["notes.md"] and result.skipped == []


def test_a_link_to_a_file_outside_the_folder_is_not_read(tmp_path):
    folder, secret = tmp_path / "docs", tmp_path / "secrets.toml"
    folder.mkdir()
    secret.write_text("password = 'hunter2'")
    (folder / ".env").write_text("TOKEN=1")
    (folder / "notes.md").write_text("visible")
    (folder / "innocent.md").symlink_to(secret)
    (folder / "alias.md").symlink_to(folder / ".env")
    (folder / "same.md").symlink_to(folder / "notes.md")
    result = load_folder(folder, MB)
    assert {f.path: f.text for f in result.files} == {"notes.md": "visible", "same.md": "visible"}
    assert skipped(result) == {"innocent.md": "a link to a file outside the folder: not read",
                               "alias.md": "a link to a hidden file: not read"}


def test_empty_folder_and_folder_of_unusable_files_say_so(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="No readable text files in .*empty"):
        load_folder(tmp_path / "empty", MB)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "a.bin").write_bytes(b"\0\1\2")
    with pytest.raises(InvalidInputError, match=r"skipped a.bin: binary file"):
        load_folder(tmp_path / "bin", MB)


def test_git_source_reads_tracked_files_at_a_revision(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "notes.md").write_text("version one")
    git(repo, "add", "notes.md")
    git(repo, "commit", "-qm", "v1")
    (repo / "notes.md").write_text("version two")
    (repo / "big.txt").write_text("x" * 2000)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v2")
    (repo / "untracked.md").write_text("not committed")
    (repo / ".env").write_text("TOKEN=committed by mistake")
    git(repo, "add", ".env")
    git(repo, "commit", "-qm", "v3")
    old = load_git(repo, "HEAD~2", MB)
    assert [(f.path, f.text) for f in old.files] == [("notes.md", "version one")]
    new = load_git(repo / "notes.md", "HEAD", 1000)  # any path inside the repository
    assert [(f.path, f.text) for f in new.files] == [("notes.md", "version two")]
    assert skipped(new) == {"big.txt": "2.0 kB, over the 1.0 kB limit per file"}
    with pytest.raises(InvalidInputError, match="has no revision 'nope'"):
        load_git(repo, "nope", MB)


def test_a_folder_that_is_not_a_repository_is_refused_clearly(tmp_path):
    with pytest.raises(InvalidInputError, match="is not a git repository"):
        load_git(tmp_path, "HEAD", MB)


@pytest.mark.parametrize("name", ["", "  ", "../escape", "a/b", "a\\b", "..", "-dash", "x" * 64, "a b"])
def test_invalid_names_are_refused_with_an_example(name):
    with pytest.raises(InvalidInputError, match="name"):
        validate_name(name)


def test_valid_names_pass():
    assert validate_name(" team-docs_v1.2 ") == "team-docs_v1.2"


def test_config_checks_its_fields_and_round_trips():
    config = KnowledgeBaseConfig(source_path="/x", chunker="fixed", chunk_size=500, chunk_overlap=50)
    assert KnowledgeBaseConfig.from_dict({**config.to_dict(), "from_the_future": 1}) == config
    with pytest.raises(InvalidInputError, match="chunk_overlap must be"):
        KnowledgeBaseConfig(chunk_size=500, chunk_overlap=300)
    with pytest.raises(InvalidInputError, match="chunker must be one of"):
        KnowledgeBaseConfig(chunker="magic")
