import pytest
from tests.finetune.dataset_fixtures import commit
from tests.rag.rag_fixtures import git

from core.errors import InvalidInputError, NotFoundError
from core.finetune.git_history import examples_from_git, is_trivial


@pytest.fixture
def repo(tmp_path):
    """main: good, wip, empty (tagged `old`), a merged feature branch, a huge diff, a version bump."""
    repo = tmp_path / "billing"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "auth.py", "def refresh(token):\n    return token\n", "Add the token refresh endpoint")
    commit(repo, "auth.py", "def refresh(token):\n    return token[::-1]\n", "wip")
    git(repo, "commit", "-q", "--allow-empty", "-m", "Document the release process for maintainers")
    git(repo, "tag", "old")
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "limits.py", "MAX_LOGINS = 5\n", "Add rate limiting to the login handler")
    git(repo, "checkout", "-q", "main")
    commit(repo, "logout.py", "def logout(session):\n    session.clear()\n", "Handle expired sessions on logout")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature")
    commit(repo, "client.py", "x = 1\n" * 2000, "Add the generated client for the billing API")
    commit(repo, "VERSION", "1.2.0\n", "Bump version to 1.2.0")
    return repo


def test_meaningful_commits_at_head_become_requests_answered_by_their_diff(repo):
    built = examples_from_git(repo)
    assert built.repo == str(repo) and built.rev == "HEAD" and built.commit == git(repo, "rev-parse", "HEAD").strip()
    requests = [e["messages"][0]["content"] for e in built.examples]
    assert requests == [f"Write the change for this commit message in billing:\n\n{message}" for message in
                        ("Handle expired sessions on logout", "Add rate limiting to the login handler",
                         "Add the token refresh endpoint")]
    first = built.examples[-1]
    assert first["messages"][1]["role"] == "assistant"
    assert first["messages"][1]["content"].startswith("diff --git a/auth.py b/auth.py\nnew file mode")
    assert "+def refresh(token):" in first["messages"][1]["content"]
    assert first["source"] == "git:" + git(repo, "rev-parse", "main~6").strip()[:12]
    assert built.skipped == {"merge commit": 1, "trivial message": 2, "empty diff": 1,
                             "diff over 6000 characters": 1}


def test_an_older_revision_and_a_larger_diff_bound(repo):
    old = examples_from_git(repo, rev="old")
    assert [e["source"] for e in old.examples] == ["git:" + git(repo, "rev-parse", "old~2").strip()[:12]]
    assert old.skipped == {"trivial message": 1, "empty diff": 1}
    assert len(examples_from_git(repo, max_diff_chars=50_000).examples) == 4


def test_no_usable_commit_says_what_was_skipped(tmp_path):
    repo = tmp_path / "scratch"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "notes.txt", "a\n", "wip")
    git(repo, "commit", "-q", "--allow-empty", "-m", "Describe the plan for the next sprint")
    with pytest.raises(InvalidInputError, match=r"No commit of .*scratch at HEAD makes an example "
                                                r"\(skipped: 1 empty diff, 1 trivial message\)"):
        examples_from_git(repo)


def test_a_path_that_is_not_a_repository_or_a_revision_that_does_not_exist(repo, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InvalidInputError, match="is not a git repository"):
        examples_from_git(plain)
    with pytest.raises(InvalidInputError, match="has no revision 'nope': give an existing branch"):
        examples_from_git(repo, rev="nope")
    with pytest.raises(NotFoundError, match="does not exist"):
        examples_from_git(tmp_path / "missing")
    with pytest.raises(InvalidInputError, match="outside the folders the lab may read"):
        examples_from_git("/")


@pytest.mark.parametrize("message, trivial", [
    ("wip", True), ("fix", True), ("more tests", True), ("Fix typo in README", True), ("Update README.md", True),
    ("Bump version to 2.0", True), ("v1.2.0 released today", True), ("Release 2.0 to customers", True),
    ("Fix the login timeout when a token expires", False), ("Add rate limiting to login\n\nLong body.", False),
])
def test_trivial_messages(message, trivial):
    assert is_trivial(message) is trivial
