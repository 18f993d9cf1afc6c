"""Sending one alert to one destination: SMTP for e-mail, an HTTP POST for the others, secrets never shown.

A delivery error names the destination and the environment variable that holds its URL or key,
never the value: messages pass through `redact` with every secret the destination read (the URL,
its path and query, a `user:password@` part, a routing key), because the errors end in sensor
ticks, event logs and daemon logs. A URL's `user:password@` becomes HTTP Basic authentication.

SMTP comes from LAKEHOUSE_SMTP_HOST (default 127.0.0.1), LAKEHOUSE_SMTP_PORT (25),
LAKEHOUSE_SMTP_SENDER, and optional LAKEHOUSE_SMTP_USER/LAKEHOUSE_SMTP_PASSWORD
(+ LAKEHOUSE_SMTP_STARTTLS=1). PagerDuty events go to $LAKEHOUSE_PAGERDUTY_EVENTS_URL, default
https://events.pagerduty.com/v2/enqueue. Each delivery is tried 3 times (0.5 s, 1 s apart).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Mapping, Sequence
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from lakehouse_jobs.lib.errors import LakehouseError
from lakehouse_jobs.lib.jobs.automation import alert_formats
from lakehouse_jobs.lib.jobs.automation.destinations import Destination, DestinationError, addresses, secret

PAGERDUTY_URL_ENV = "LAKEHOUSE_PAGERDUTY_EVENTS_URL"
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
RETRY_DELAYS = (0.5, 1.0)
TIMEOUT_SECONDS = 30
REDACTED = "***"


class DeliveryError(LakehouseError):
    """A notification could not be delivered (recorded on the sensor tick, or warned in the task's step)."""


class NotConfigured(DeliveryError):
    """The destination's environment variable is unset or unusable: retrying cannot help."""


def redact(text: str, secrets: Collection[str]) -> str:
    for value in sorted((s for s in secrets if s and len(s) >= 3), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def smtp_settings() -> dict:
    return {
        "host": os.environ.get("LAKEHOUSE_SMTP_HOST", "127.0.0.1"),
        "port": int(os.environ.get("LAKEHOUSE_SMTP_PORT", "25")),
        "sender": os.environ.get("LAKEHOUSE_SMTP_SENDER", "lakehouse-jobs@localhost"),
        "user": os.environ.get("LAKEHOUSE_SMTP_USER"),
        "password": os.environ.get("LAKEHOUSE_SMTP_PASSWORD"),
        "starttls": os.environ.get("LAKEHOUSE_SMTP_STARTTLS") == "1",
    }


def send_email(recipients: list[str], subject: str, body: str) -> None:
    settings = smtp_settings()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings["sender"], ", ".join(recipients), subject
    message.set_content(body)
    try:
        with smtplib.SMTP(settings["host"], settings["port"], timeout=TIMEOUT_SECONDS) as smtp:
            if settings["starttls"]:
                smtp.starttls()
            if settings["user"]:
                smtp.login(settings["user"], settings["password"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        text = redact(str(error), [settings["password"] or ""])
        raise DeliveryError(f"email to {', '.join(recipients)} via {settings['host']}:{settings['port']} failed: {text}") from None


def _split(url: str, label: str) -> tuple[str, dict[str, str], list[str]]:
    """(the URL without user:password@, its headers, the secrets in it); NotConfigured naming `label` when unusable."""
    secrets = [url]
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise NotConfigured(f"{label}: the variable does not hold a valid URL (it contains a space or a control character)")
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a non-numeric port
    except ValueError:
        raise NotConfigured(f"{label}: the variable does not hold a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise NotConfigured(f"{label}: the variable does not hold an http(s) URL")
    secrets += [parts.path, parts.query, parts.netloc, parts.username or "", parts.password or ""]
    secrets += [unquote(s) for s in (parts.path, parts.username or "", parts.password or "")]
    headers = {"Content-Type": "application/json"}
    if parts.username is not None or parts.password is not None:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        parts = parts._replace(netloc=host + (f":{port}" if port is not None else ""))
    return urlunsplit(parts), headers, [s for s in secrets if s not in ("/", "")]


def post_json(url: str, payload: Mapping[str, Any], label: str, secrets: Collection[str] = (), auth: tuple[str, str] | None = None) -> None:
    """POST `payload`; DeliveryError naming `label` (the destination and its variable), never the URL or a secret."""
    target, headers, hidden = _split(url, label)
    hidden = [*hidden, *secrets]
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        hidden += [auth[0], auth[1]]
    request = urllib.request.Request(target, data=json.dumps(payload).encode(), headers=headers, method="POST")  # noqa: S310 - http(s) only, checked
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - see above
            response.read()
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"{label} failed: the server answered HTTP {error.code}") from None
    except (ValueError, http.client.InvalidURL):  # their messages quote the URL
        raise NotConfigured(f"{label}: the variable does not hold a valid URL") from None
    except http.client.HTTPException as error:  # a broken answer; its message may quote the request
        raise DeliveryError(f"{label} failed: {type(error).__name__}: {redact(str(error), hidden)}") from None
    except OSError as error:  # URLError, timeouts, refused connections
        reason = getattr(error, "reason", None) or error
        raise DeliveryError(f"{label} failed: {redact(str(reason), hidden)}") from None


def post_webhook(variable: str, payload: Mapping) -> None:
    """The generic webhook of `env:VARIABLE` (this project's first form of destination)."""
    url = os.environ.get(variable)
    if not url:
        raise NotConfigured(f"webhook destination env:{variable}: environment variable {variable} is not set")
    post_json(url, payload, f"webhook destination env:{variable}")


def retried(send: Callable[[], None], delays: Sequence[float] = RETRY_DELAYS) -> None:
    for delay in delays:
        try:
            return send()
        except NotConfigured:
            raise
        except DeliveryError:
            time.sleep(delay)
    send()


def deliver(destination: Destination, event: str, body: dict[str, Any], subject: str) -> str | None:
    """Send one alert to one destination, retried; DeliveryError if it never arrives. Returns why nothing was sent, if so."""
    kind = destination.type
    try:
        if kind == "email":
            recipients = list(addresses(destination))
            retried(lambda: send_email(recipients, subject, json.dumps(body, indent=2)))
            return None
        if kind == "pagerduty":
            action = alert_formats.pagerduty_action(event)
            if action is None:
                return f"{destination.label()}: {event} is not sent to PagerDuty (only failures, duration warnings and the success that resolves them)"
            key = secret(destination, "integration_key")
            message = alert_formats.pagerduty(body, key, action)
            endpoint = os.environ.get(PAGERDUTY_URL_ENV) or PAGERDUTY_URL
            label = f"{destination.label()} (routing key in environment variable {destination.variables['integration_key']})"
            retried(lambda: post_json(endpoint, message, label, secrets=[key]))
            return None
        url = secret(destination, "url")
        message = {"slack": alert_formats.slack, "microsoft_teams": alert_formats.teams}.get(kind, lambda b: b)(body)
        auth = None
        if kind == "webhook" and "username" in destination.variables and os.environ.get(destination.variables["username"]):
            auth = (os.environ[destination.variables["username"]], os.environ.get(destination.variables.get("password", ""), ""))
        label = (
            destination.label() if destination.id.startswith("env:") else f"{destination.label()} (URL in environment variable {destination.variables['url']})"
        )
        retried(lambda: post_json(url, message, label, auth=auth))
        return None
    except DestinationError as error:
        raise NotConfigured(str(error)) from None
