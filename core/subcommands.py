"""How a capability adds its subcommands to `python -m core`: a command is a function
taking the parsed arguments and returning an exit code. Below every package, so
each package's `commands` module can use it without importing the CLI itself."""

from __future__ import annotations

import argparse


def add_command(subparsers, name: str, help_text: str, run) -> argparse.ArgumentParser:
    """A subcommand whose parsed arguments are handed to `run`."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(run=run)
    return parser
