"""CLI: keys create prints the key once as JSON; list hides it; revoke works; override set/list/revoke."""

from __future__ import annotations

import json
from datetime import date, timedelta

from core.cli import main
from serving.keys import caller_for
from serving.publish import publish


def _run(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_keys_create_list_revoke(settings, capsys):
    home = str(settings.home)
    code, out = _run(capsys, "keys", "create", "--role", "planner", "--label", "town office", "--json", "--home", home)
    created = json.loads(out)
    assert code == 0 and created["role"] == "planner" and created["key"].startswith("crk_")
    assert caller_for(settings, created["key"]).role == "planner"
    code, out = _run(capsys, "keys", "list", "--json", "--home", home)
    assert created["key"] not in out and json.loads(out)["keys"][0]["key_id"] == created["key_id"]
    code, out = _run(capsys, "keys", "revoke", created["key_id"], "--home", home)
    assert code == 0 and caller_for(settings, created["key"]) is None
    code, _ = _run(capsys, "keys", "create", "--role", "janitor", "--home", home)
    assert code == 2


def test_override_commands(settings, toy, snap, capsys):
    model, frame = toy
    s = snap(frame, 0)
    publish(settings, as_of=s.as_of, actor="test", model=model, snapshot=s)
    home, code_ = str(settings.home), s.frame["uscc"].iloc[0]
    expires = (date.today() + timedelta(days=20)).isoformat()
    rc, out = _run(capsys, "override", "set", "--uscc", code_, "--tier", "C", "--reason", "投诉集中待核查",
                   "--expires", expires, "--json", "--home", home, "--actor", "planner-7")
    assert rc == 0 and json.loads(out)["tier"] == "C"
    rc, out = _run(capsys, "override", "list", "--home", home)
    assert code_ in out and "planner-7" in out
    rc, out = _run(capsys, "override", "revoke", str(json.loads(_run(capsys, "override", "list", "--json",
                                                                      "--home", home)[1])["overrides"][0]
                                                         ["override_id"]), "--home", home)
    assert rc == 0 and "revoked" in out


def test_serve_hint_names_the_command_and_a_published_code(settings, toy, snap):
    from serving.cli import serve_hint

    model, frame = toy
    s = snap(frame, 0)
    publish(settings, as_of=s.as_of, actor="test", model=model, snapshot=s)
    text = "\n".join(serve_hint(settings, port=3123))
    assert "credit-risk serve" in text and "127.0.0.1:3123/score" in text
    assert any(code in text for code in s.frame["uscc"])
