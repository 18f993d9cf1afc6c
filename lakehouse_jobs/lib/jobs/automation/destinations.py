"""Notification destinations: what a `webhook_notifications.<event>[].id` names, as Databricks' system destinations.

In Databricks an administrator creates destinations (Slack, Microsoft Teams, PagerDuty, webhook,
e-mail) and a job names them by id. Here they are declared in one of two places, and only the
*names* of environment variables appear in either: URLs and keys are read from the environment
when an alert is sent, never written in a file or echoed.

1. A YAML file named by `$LAKEHOUSE_NOTIFICATION_DESTINATIONS`::

       oncall-slack: {type: slack, url_env: SLACK_ONCALL_URL}
       team-channel: {type: microsoft_teams, url_env: TEAMS_URL}
       pager:        {type: pagerduty, integration_key_env: PD_ROUTING_KEY}
       audit:        {type: webhook, url_env: AUDIT_URL, username_env: AUDIT_USER, password_env: AUDIT_PASSWORD}
       owners:       {type: email, addresses: [a@example.com, b@example.com]}

2. Environment variables, for an id not in the file: `LAKEHOUSE_DESTINATION_<ID>_TYPE` (the id in
   upper case, other characters than letters and digits as `_`) and then `..._URL`,
   `..._INTEGRATION_KEY`, `..._USERNAME`/`..._PASSWORD` or `..._ADDRESSES` (comma-separated).

`env:VAR` (this project's first form) is still a generic webhook whose URL is in VAR.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FILE_ENV = "LAKEHOUSE_NOTIFICATION_DESTINATIONS"
ENV_PREFIX = "LAKEHOUSE_DESTINATION_"
LEGACY_PREFIX = "env:"
TYPES = ("slack", "microsoft_teams", "pagerduty", "webhook", "email")
ALIASES = {"teams": "microsoft_teams", "msteams": "microsoft_teams", "generic_webhook": "webhook"}  # Databricks' config names
# per type: role -> (file field naming the variable, environment suffix, required)
ROLES: dict[str, dict[str, tuple[str, str, bool]]] = {
    "slack": {"url": ("url_env", "URL", True)},
    "microsoft_teams": {"url": ("url_env", "URL", True)},
    "webhook": {"url": ("url_env", "URL", True), "username": ("username_env", "USERNAME", False), "password": ("password_env", "PASSWORD", False)},
    "pagerduty": {"integration_key": ("integration_key_env", "INTEGRATION_KEY", True)},
    "email": {},
}
SECRET_LITERALS = {"url": "url_env", "integration_key": "integration_key_env", "username": "username_env", "password": "password_env"}
IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ADDRESS = re.compile(r"[^@\s,]+@[^@\s,]+")


class DestinationError(ValueError):
    """A destination that is not defined, or defined wrongly (one sentence naming the file and key or the variable)."""


@dataclass(frozen=True)
class Destination:
    """One destination: its type, the environment variables holding its secrets, e-mail addresses if any."""

    id: str
    type: str
    variables: Mapping[str, str] = field(default_factory=dict)  # role (url, integration_key, username, password) -> variable
    addresses: tuple[str, ...] = ()
    addresses_variable: str | None = None  # environment-defined e-mail destinations: read when sending

    def label(self) -> str:
        return f"webhook destination {self.id}" if self.id.startswith(LEGACY_PREFIX) else f"{self.type} destination {self.id!r}"


def env_name(ident: str) -> str:
    """`oncall-slack` -> `LAKEHOUSE_DESTINATION_ONCALL_SLACK` (the prefix of its variables)."""
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", ident).upper()


def _file_entries() -> tuple[Path | None, Mapping[str, Any]]:
    configured = os.environ.get(FILE_ENV)
    if not configured:
        return None, {}
    path = Path(configured).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DestinationError(f"{FILE_ENV} names {path}, which cannot be read ({type(exc).__name__})") from None
    return path, _parsed(path, text, path.stat().st_mtime_ns)


_CACHE: dict[tuple[str, int], Mapping[str, Any]] = {}


def _parsed(path: Path, text: str, stamp: int) -> Mapping[str, Any]:
    key = (str(path), stamp)
    if key not in _CACHE:
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise DestinationError(f"{path}{where}: not valid YAML") from None
        if not isinstance(loaded, Mapping):
            raise DestinationError(f"{path}: expected a mapping of destination ids to {{type, url_env | integration_key_env | addresses}}")
        _CACHE.clear()
        _CACHE[key] = loaded
    return _CACHE[key]


def _variable(value: Any, where: str) -> str:
    if not isinstance(value, str) or not VARIABLE.fullmatch(value):
        raise DestinationError(f"{where}: expected the name of an environment variable (letters, digits, _)")
    return value


def _kind(value: Any, where: str) -> str:
    kind = ALIASES.get(str(value).lower(), str(value).lower()) if isinstance(value, str) else None
    if kind not in TYPES:
        raise DestinationError(f"{where}: expected one of {', '.join(TYPES)}, got {value!r}")
    return kind


def _from_file(path: Path, ident: str, entry: Any) -> Destination:
    where = f"{path}: destination {ident!r}"
    if not isinstance(entry, Mapping):
        raise DestinationError(f"{where}: expected {{type, url_env | integration_key_env | addresses}}")
    for literal, instead in SECRET_LITERALS.items():
        if literal in entry:  # the value is never echoed: it is a secret
            raise DestinationError(f"{where}.{literal}: secrets are never written in the file; put it in an environment variable and name it with {instead}")
    kind = _kind(entry.get("type"), f"{where}.type")
    roles = ROLES[kind]
    allowed = {"type", "display_name", *(name for name, _, _ in roles.values())} | ({"addresses"} if kind == "email" else set())
    unknown = sorted(str(k) for k in entry if k not in allowed)
    if unknown:
        raise DestinationError(f"{where}.{unknown[0]}: not a field of a {kind} destination (expected {', '.join(sorted(allowed))})")
    variables = {}
    for role, (name, _, required) in roles.items():
        if name in entry:
            variables[role] = _variable(entry[name], f"{where}.{name}")
        elif required:
            raise DestinationError(f"{where}.{name}: missing (the environment variable holding its {role.replace('_', ' ')})")
    addresses: tuple[str, ...] = ()
    if kind == "email":
        given = entry.get("addresses")
        if not isinstance(given, list) or not given or not all(isinstance(a, str) and ADDRESS.fullmatch(a) for a in given):
            raise DestinationError(f"{where}.addresses: expected a non-empty list of e-mail addresses")
        addresses = tuple(given)
    return Destination(ident, kind, variables, addresses)


def _from_env(ident: str) -> Destination | None:
    prefix = env_name(ident)
    given = os.environ.get(prefix + "_TYPE")
    if given is None:
        return None
    kind = _kind(given.strip(), f"environment variable {prefix}_TYPE")
    variables = {role: f"{prefix}_{suffix}" for role, (_, suffix, _) in ROLES[kind].items()}
    return Destination(ident, kind, variables, addresses_variable=f"{prefix}_ADDRESSES" if kind == "email" else None)


def lookup(ident: str) -> Destination:
    """The destination `ident` names (DestinationError in one sentence otherwise); secrets are not read here."""
    if ident.startswith(LEGACY_PREFIX):
        variable = ident[len(LEGACY_PREFIX) :]
        if not VARIABLE.fullmatch(variable):
            raise DestinationError(f"{ident!r}: expected env:<ENVIRONMENT_VARIABLE>")
        return Destination(ident, "webhook", {"url": variable})
    if not IDENT.fullmatch(ident):
        raise DestinationError("expected a destination id (letters, digits, _ . -, at most 100) or env:VARIABLE")
    path, entries = _file_entries()
    if ident in entries:
        return _from_file(path, ident, entries[ident])
    found = _from_env(ident)
    if found is None:
        in_file = f" nor in {path} ({FILE_ENV})" if path else f" (no {FILE_ENV} file is set)"
        raise DestinationError(f"destination {ident!r} is not defined: set {env_name(ident)}_TYPE{in_file}")
    return found


def secret(destination: Destination, role: str) -> str:
    """The value of a destination's variable (NotConfigured-style DestinationError naming the variable, never a value)."""
    variable = destination.variables[role]
    value = os.environ.get(variable)
    if not value:
        raise DestinationError(f"{destination.label()}: environment variable {variable} is not set")
    return value


def addresses(destination: Destination) -> tuple[str, ...]:
    if destination.addresses_variable is None:
        return destination.addresses
    text = os.environ.get(destination.addresses_variable, "")
    found = tuple(part.strip() for part in text.split(",") if part.strip())
    if not found or not all(ADDRESS.fullmatch(a) for a in found):
        raise DestinationError(f"{destination.label()}: environment variable {destination.addresses_variable} does not hold comma-separated e-mail addresses")
    return found
