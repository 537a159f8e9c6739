"""`python -m core users ...` and `python -m core audit list`: the lab's users, their roles, and who did
what. The operator's shell acts as an admin; `python -m core --as EMAIL ...` acts as that user."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Optional

from core.access.audit import audit_log, audit_rows
from core.access.roles import LOCAL_ADMIN, Actor, Role
from core.access.users import actor_for, add_user, list_users, set_disabled, set_role
from core.errors import InvalidInputError
from core.store import current_database
from core.subcommands import add_command

ROLES = [role.label for role in Role]


def register(subparsers) -> None:
    users = subparsers.add_parser("users", help="the lab's users and their roles (viewer, reviewer, admin)")
    commands = users.add_subparsers(dest="users_command", metavar="COMMAND", required=True)
    add = add_command(commands, "add", "add a user; the password is read from a prompt, or from stdin's "
                      "first line when stdin is not a terminal (never from an argument)", run_add)
    add.add_argument("email")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--no-password", action="store_true", help="signs in only through the OIDC provider")
    listing = add_command(commands, "list", "list the users", run_list)
    listing.add_argument("--json", action="store_true")
    role = add_command(commands, "role", "change a user's role", run_role)
    role.add_argument("email")
    role.add_argument("role", choices=ROLES)
    for name, disabled in (("disable", True), ("enable", False)):
        command = add_command(commands, name, f"{name} a user (their past work keeps their name)", run_disable)
        command.add_argument("email")
        command.set_defaults(disabled=disabled)

    audit = subparsers.add_parser("audit", help="who did what, when (admins only)")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    audit_list = add_command(audit_commands, "list", "the audit log, newest first", run_audit)
    audit_list.add_argument("--limit", type=int, default=50, metavar="N")
    audit_list.add_argument("--json", action="store_true")


def acting_user(email: Optional[str]) -> Actor:
    """Who a command acts as: the user named by `--as`, else the operator's own shell (an admin)."""
    return actor_for(current_database(), email) if email else LOCAL_ADMIN


def run_add(args: argparse.Namespace) -> int:
    password = None if args.no_password else read_password()
    user = add_user(current_database(), args.actor, args.email, Role.named(args.role), password)
    print(f"added {user.email} as {user.role}")
    return 0


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != password:
        raise InvalidInputError("The two passwords differ: nothing was saved.")
    return password


def run_list(args: argparse.Namespace) -> int:
    users = list_users(current_database())
    rows = [{"email": u.email, "role": u.role, "disabled": u.disabled, "password": u.password_hash is not None,
             "created_by": u.created_by, "created_at": u.created_at.isoformat()} for u in users]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("No users yet: python -m core users add EMAIL --role admin")
    for row in rows:
        print(f"{row['email']:<32} {row['role']:<9} {'disabled' if row['disabled'] else ''}")
    return 0


def run_role(args: argparse.Namespace) -> int:
    user = set_role(current_database(), args.actor, args.email, Role.named(args.role))
    print(f"{user.email} is now a {user.role}")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    user = set_disabled(current_database(), args.actor, args.email, args.disabled)
    print(f"{user.email} is {'disabled' if user.disabled else 'enabled'}")
    return 0


def run_audit(args: argparse.Namespace) -> int:
    entries = audit_log(current_database(), args.actor, limit=args.limit)
    if args.json:
        print(json.dumps([{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "target": e.target,
                           "before": e.before, "after": e.after} for e in entries], indent=2))
        return 0
    for row in audit_rows(entries):
        print("  ".join(str(value) for value in row.values() if value != ""))
    return 0
