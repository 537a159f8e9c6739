"""Typed errors whose messages tell the user how to fix the problem.

Only the edges (the CLI and the Streamlit pages) turn these into output;
everything below them raises.
"""


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


class MissingKeyError(LabError):
    """An API key is needed and not configured."""


class BackendError(LabError):
    """A model backend failed to answer."""
