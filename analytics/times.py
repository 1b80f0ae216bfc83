"""Parsing of user-given times: ISO 8601, aware UTC inside analytics."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics.errors import InputError


def parse_time(text: str, what: str = "time") -> datetime:
    """Parse an ISO-8601 time ('Z' allowed); a time without a zone is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{what}: not an ISO-8601 time: {text!r}") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
