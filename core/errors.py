"""Typed errors whose messages tell the user how to fix the problem.

Only the edges (the CLI and the Streamlit pages) turn these into output;
everything below them raises.
"""

import errno
from typing import Optional


class LabError(Exception):
    """Base class: the message is written for the person using the tool."""


class InvalidInputError(LabError):
    """Input from the user that cannot be used as given."""


class NotFoundError(LabError):
    """Something the user named does not exist (any more)."""


class AlreadyExistsError(LabError):
    """A name that must be unique is already taken."""


class StoreError(LabError):
    """The database cannot be used: corrupt, read-only or unreachable."""


class AccessDeniedError(LabError):
    """The acting user's role does not allow what was asked, or they could not sign in."""


class MissingKeyError(LabError):
    """An API key is needed and not configured."""


class BackendError(LabError):
    """A model backend failed to answer."""


_WRITE_FAILURES = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
                   errno.EFBIG: "a file size limit was reached"}


def write_failure(exc: BaseException) -> Optional[str]:
    """A write that failed for want of space, as a sentence saying what to do; None for any other error."""
    if not isinstance(exc, OSError) or exc.errno not in _WRITE_FAILURES:
        return None
    where = f" to {exc.filename}" if exc.filename else ""
    return (f"A write{where} failed: {_WRITE_FAILURES[exc.errno]} ({exc.strerror}). Free some space, then resume "
            "the job.")
