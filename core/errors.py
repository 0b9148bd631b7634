"""Errors a user can act on: the CLI prints their message and exits 2, the service answers 4xx."""


class UserError(Exception):
    """Bad input or a refused action, with a message that says what was expected and what arrived."""


class NotFound(UserError):
    """The thing asked for does not exist."""


class Conflict(UserError):
    """The action collides with the current state (e.g. another officer acted first)."""


class Busy(UserError):
    """Another process holds what the action needs (e.g. a cycle of this home is running); try again later."""

    exit_code = 75  # EX_TEMPFAIL: cron and systemd tell "busy, retry" from "bad input" (2)
