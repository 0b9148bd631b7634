"""CLI: ``users create|list|disable|reset`` — console accounts (the password is read from stdin or a prompt)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from core.cli import Outcome, actor_of
from core.errors import UserError
from core.settings import Settings


def register(sub, common) -> None:
    users = sub.add_parser("users", help="console users: create, list, disable, reset")
    usub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    u = usub.add_parser("create", parents=[common], help="create a console user (password from stdin or a prompt)")
    u.add_argument("name", help="login name (a-z 0-9 . _ -)")
    u.add_argument("--role", required=True, help="planner | repair_officer | model_operator | admin | external_dept (restriction checks only)")
    u.set_defaults(handler=_create)
    u = usub.add_parser("list", parents=[common], help="list console users (never their passwords)")
    u.set_defaults(handler=_list)
    u = usub.add_parser("disable", parents=[common], help="disable a user and end their sessions")
    u.add_argument("name")
    u.set_defaults(handler=_disable)
    u = usub.add_parser("reset", parents=[common], help="set a new password (from stdin or a prompt); unlocks")
    u.add_argument("name")
    u.set_defaults(handler=_reset)


def _password() -> str:
    """The new password: one line of standard input when it is not a terminal, else asked twice."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise UserError("password: the two entries differ")
    return first


def _line(u) -> str:
    locked = u.locked_until is not None and u.locked_until.replace(tzinfo=u.locked_until.tzinfo or UTC) > datetime.now(UTC)
    state = "disabled" if u.disabled else "locked" if locked else "active"
    return f"{u.user_id}  {u.name:<20} {u.role:<15} {state:<8} created {u.created_at:%Y-%m-%d}"


def _create(args: argparse.Namespace, settings: Settings) -> Outcome:
    from console.accounts import create_user

    u = create_user(settings, name=args.name, role=args.role, password=_password(), actor=actor_of(args))
    return Outcome({"user_id": u.user_id, "name": u.name, "role": u.role},
                   [f"user {u.name} ({u.role}) created; sign in at http://127.0.0.1:3000/console/"])


def _list(args: argparse.Namespace, settings: Settings) -> Outcome:
    from console.accounts import list_users

    users = list_users(settings)
    data = [{"user_id": u.user_id, "name": u.name, "role": u.role, "disabled": u.disabled,
             "locked_until": u.locked_until, "created_at": u.created_at} for u in users]
    return Outcome({"users": data}, [_line(u) for u in users] or ["no console users"])


def _disable(args: argparse.Namespace, settings: Settings) -> Outcome:
    from console.accounts import disable_user

    u = disable_user(settings, name=args.name, actor=actor_of(args))
    return Outcome({"user_id": u.user_id, "name": u.name, "disabled": True}, [f"user {u.name} disabled"])


def _reset(args: argparse.Namespace, settings: Settings) -> Outcome:
    from console.accounts import reset_password

    u = reset_password(settings, name=args.name, password=_password(), actor=actor_of(args))
    return Outcome({"user_id": u.user_id, "name": u.name}, [f"password of {u.name} reset; the account is unlocked"])
