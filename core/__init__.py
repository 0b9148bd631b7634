"""Shared foundations: settings, identifiers, rules tables, calendars, operational DB, CLI."""
