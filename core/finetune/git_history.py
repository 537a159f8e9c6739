"""Fine-tuning examples from a repository's history: the commit message asks, the diff answers.

A team's commits teach a model its codebase's conventions. Only commits that say what they do
are worth learning from, so these are skipped, and counted by reason:

- merges (they repeat their parents' changes);
- commits whose diff is empty (e.g. `--allow-empty`, mode-only changes);
- trivial messages: a subject under three words ("fix", "wip", "more tests"), or one that only says
  something was touched ("fix typo", "update README", "bump version to 1.2", "v1.2.0", "Release 2.0");
- diffs over `max_diff_chars` characters (vendored files, lockfiles, mass renames), which would not
  fit a small model's context anyway.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InvalidInputError
from core.git import commit_id, run_git
from core.paths import readable_repository

DEFAULT_MAX_DIFF_CHARS = 6000
EXAMPLE_FORMAT = "commit_diff"  # stored as the dataset's source_format
DEFAULT_MAX_COMMITS = 1000  # the newest ones; bounds the time a huge history takes
MIN_SUBJECT_WORDS = 3
_TRIVIAL = re.compile(
    r"^(wip\b|fix(e[sd])? typos?\b|typos?\b|update[sd]? (the )?readme\b|bump(ed|s)?\b"
    r"|(release|version|v)\s*\d+(\.\d+)*\b|\d+(\.\d+)+\b)", re.IGNORECASE)
_RECORD, _FIELD = "\x1e", "\x1f"  # separators git never writes into a hash or a message


@dataclass
class GitExamples:
    repo: str  # the repository's top folder
    rev: str  # as asked, e.g. "HEAD" or "v1.2"
    commit: str  # what `rev` resolved to
    examples: list[dict] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> number of commits


def examples_from_git(path: str | Path, rev: str = "HEAD", max_diff_chars: int = DEFAULT_MAX_DIFF_CHARS,
                      max_commits: int = DEFAULT_MAX_COMMITS) -> GitExamples:
    """One example per meaningful commit reachable from `rev` (newest first, at most `max_commits`)."""
    if max_diff_chars < 1 or max_commits < 1:
        raise InvalidInputError("max_diff_chars and max_commits must be at least 1.")
    top = readable_repository(path)
    commit = commit_id(top, rev)
    result = GitExamples(repo=str(top), rev=rev, commit=commit)
    skipped: Counter[str] = Counter()
    merges = int(_git(top, "rev-list", "--merges", "--count", f"--max-count={max_commits}", commit))
    if merges:
        skipped["merge commit"] = merges
    for sha, message in _commits(top, commit, max_commits):
        if is_trivial(message):
            skipped["trivial message"] += 1
            continue
        diff = _git(top, "diff-tree", "-p", "--root", "--no-commit-id", "--no-color", "--no-ext-diff", sha)
        reason = ("empty diff" if not diff.strip()
                  else f"diff over {max_diff_chars} characters" if len(diff) > max_diff_chars else "")
        if reason:
            skipped[reason] += 1
        else:
            result.examples.append(_example(top.name, sha, message, diff))
    result.skipped = dict(skipped)
    if not result.examples:
        raise InvalidInputError(f"No commit of {top} at {rev} makes an example (skipped: {_describe(skipped)}). "
                                "Pick a revision with more history, or raise the maximum diff size.")
    return result


def is_trivial(message: str) -> bool:
    """A message too short or too generic to ask for a change with."""
    subject = message.strip().splitlines()[0].strip() if message.strip() else ""
    return len(subject.split()) < MIN_SUBJECT_WORDS or bool(_TRIVIAL.match(subject))


def _commits(top: Path, commit: str, max_commits: int) -> list[tuple[str, str]]:
    """(hash, message) of the non-merge commits reachable from `commit`, newest first."""
    out = _git(top, "log", "--no-merges", f"--max-count={max_commits}",
               f"--format={_RECORD}%H{_FIELD}%B", commit)
    records = [r.split(_FIELD, 1) for r in out.split(_RECORD) if _FIELD in r]
    return [(sha.strip(), message.strip()) for sha, message in records]


def _example(repo_name: str, sha: str, message: str, diff: str) -> dict:
    request = f"Write the change for this commit message in {repo_name}:\n\n{message}"
    return {"messages": [{"role": "user", "content": request}, {"role": "assistant", "content": diff}],
            "source": f"git:{sha[:12]}"}


def _describe(skipped: Counter[str]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in skipped.most_common()) or "no commits"


def _git(top: Path, *args: str) -> str:
    return run_git(top, *args).decode("utf-8", errors="replace")
