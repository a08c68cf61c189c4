"""Sending one alert through one notifier: email, slack, webhook, command, file.

``send(spec, payload, root)`` makes one attempt and raises ``NotifyError`` on failure
(``permanent`` when retrying cannot help, e.g. a missing environment variable). Secrets
come from environment variables named in the config and are scrubbed from every error
text (``scrub``), so they never reach events, warnings or the terminal.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from .. import env
from ..procgroup import kill_group, start

SECRET_KEYS = ("webhook_env", "url_env", "token_env", "username_env", "password_env")


class NotifyError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def secrets_of(spec: dict[str, Any]) -> list[str]:
    """The secret values this notifier would use (to scrub them from messages)."""
    values = [env.secret(spec[k]) for k in SECRET_KEYS if k in spec]
    return [v for v in values if v]


def unset_env(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, variable) of each environment variable this notifier needs that is unset:
    every delivery through it would fail."""
    return [(k, spec[k]) for k in SECRET_KEYS if k in spec and not env.secret(spec[k])]


def unset_notices(rules: list[Any], notifiers: dict[str, Any],
                  starts: str) -> list[tuple[str, str, str]]:
    """(notifier, variable, warning text) for each unset variable a notifier of ``rules``
    needs, once per variable: said when the run or monitor (``starts``) starts, not when
    a rule fires hours later and its alert cannot be delivered."""
    out: list[tuple[str, str, str]] = []
    said: set[str] = set()
    for name, spec in sorted(notifiers.items()):
        names = [r.name for r in rules if name in r.notify]
        for key, variable in unset_env(spec) if names else []:
            if variable in said:
                continue
            said.add(variable)
            which = f"rule{'s' * (len(names) > 1)} {', '.join(names)}"
            out.append((name, variable,
                        f"alert notifier {name}: environment variable {variable} is not "
                        f"set ({key}), so alerts of {which} cannot be delivered; set it "
                        f"before the {starts} starts ('gitlog alerts test' checks every "
                        "notifier)"))
    return out


def scrub(text: str, secrets: list[str]) -> str:
    for value in sorted(secrets, key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, "***")
    return text


def _required_env(spec: dict[str, Any], key: str) -> str:
    name = spec[key]
    value = env.secret(name)
    if not value:
        raise NotifyError(f"environment variable {name} is not set ({key})", permanent=True)
    return value


def _url_from_env(spec: dict[str, Any], key: str) -> str:
    """A webhook URL from the environment; one that is no http(s) URL (a pasted path, a
    stray quote) is named by its variable, never shown: it is a secret."""
    url = _required_env(spec, key).strip()
    if not url.lower().startswith(("http://", "https://")):
        raise NotifyError(f"environment variable {spec[key]} does not hold an http:// or "
                          f"https:// URL ({key})", permanent=True)
    return url


def text_of(payload: dict[str, Any]) -> str:
    """The human-readable lines of an alert (Slack text, email body). A live alert
    fires before its run is committed: its code commit and branch say where it ran."""
    lines = [str(payload.get("message", ""))]
    for key in ("rule", "experiment", "branch", "run", "commit", "code_commit", "metric",
                "value", "step", "event", "host"):
        if payload.get(key) is not None:
            lines.append(f"{key}: {payload[key]}")
    return "\n".join(lines)


def slack_text(payload: dict[str, Any]) -> str:
    """The Slack message: the text escaped as Slack asks (``&``, ``<``, ``>``), or an
    event's ``<class 'int'>`` vanishes as a broken link and ``<!channel>`` pings everyone."""
    text = text_of(payload).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"*gitlog alert {payload.get('rule')}*\n{text}"


def subject_of(payload: dict[str, Any]) -> str:
    """The email subject: one line (a header cannot hold a line break, and an event's
    message, e.g. one with a traceback, may have several), at most 250 characters."""
    text = " ".join(str(payload.get("message", "")).split())
    return f"[gitlog] {payload.get('rule')}: {text}"[:250]


def send(spec: dict[str, Any], payload: dict[str, Any], root: Path) -> None:
    kind = spec["type"]
    timeout = float(spec.get("timeout", 10))
    if kind == "webhook":
        url = spec.get("url") or _url_from_env(spec, "url_env")
        headers = {}
        if "token_env" in spec:
            headers["Authorization"] = "Bearer " + _required_env(spec, "token_env")
        _post(url, payload, headers, timeout)
    elif kind == "slack":
        url = _url_from_env(spec, "webhook_env")
        _post(url, {"text": slack_text(payload)}, {}, timeout)
    elif kind == "email":
        _email(spec, payload, root, timeout)
    elif kind == "command":
        _command(spec, payload, root, timeout)
    elif kind == "file":
        path = root / spec["path"]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json_payload(payload).decode() + "\n")
        except OSError as exc:
            raise NotifyError(f"cannot write {path}: {exc.strerror or exc}") from None
    else:  # validated away; kept for a config edited under a running process
        raise NotifyError(f"unknown notifier type {kind!r}", permanent=True)


def _finite(payload: dict[str, Any]) -> bool:
    value = payload.get("value")
    return not isinstance(value, float) or value == value and abs(value) != float("inf")


def json_payload(payload: dict[str, Any]) -> bytes:
    """JSON with a NaN or infinite value as a string ("nan", "inf"): JSON has no such
    numbers, and receivers' parsers reject them."""
    safe = dict(payload)
    value = safe.get("value")
    if isinstance(value, float) and not _finite(safe):
        safe["value"] = "nan" if value != value else ("inf" if value > 0 else "-inf")
    return json.dumps(safe, default=str).encode()


def _post(url: str, payload: dict[str, Any], headers: dict[str, str], timeout: float) -> None:
    import http.client
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json_payload(payload), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "gitlog-alerts", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        permanent = exc.code in (400, 401, 403, 404, 405, 410)
        raise NotifyError(f"HTTP {exc.code} {exc.reason}", permanent=permanent) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = getattr(reason, "strerror", None) or str(reason)
        raise NotifyError(f"cannot connect: {text}") from None
    except TimeoutError:
        raise NotifyError(f"no answer within {timeout:g} s") from None
    except OSError as exc:
        raise NotifyError(f"connection failed: {exc.strerror or exc}") from None
    except (ValueError, http.client.InvalidURL) as exc:  # a space, a bad port
        raise NotifyError(f"invalid URL: {exc}", permanent=True) from None


def _tls_context(spec: dict[str, Any], root: Path) -> Any:
    """The TLS context for STARTTLS: the system's CAs, or ``ca_file`` (relative to the
    repository, as the file notifier's path, not to wherever the process runs)."""
    import ssl

    if not spec.get("ca_file"):
        return ssl.create_default_context()
    path = root / str(spec["ca_file"])
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise NotifyError(f"ca_file {path}: {reason}", permanent=True) from None


def _email(spec: dict[str, Any], payload: dict[str, Any], root: Path,
           timeout: float) -> None:
    import smtplib
    import ssl
    from email.message import EmailMessage

    to = spec["to"] if isinstance(spec["to"], list) else [spec["to"]]
    message = EmailMessage()
    message["Subject"] = subject_of(payload)
    message["From"] = spec.get("from") or f"gitlog@{socket.gethostname()}"
    message["To"] = ", ".join(to)
    message.set_content(text_of(payload) + "\n\n" + json_payload(payload).decode() + "\n")
    user = password = None
    if "username_env" in spec:
        user = _required_env(spec, "username_env")
        password = _required_env(spec, "password_env")
    starttls = spec.get("starttls", "auto")
    context = _tls_context(spec, root) if starttls is not False else None
    host, port = spec["smtp_host"], int(spec.get("smtp_port", 587))
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.ehlo()
            secure = False
            if starttls is True or (starttls == "auto" and smtp.has_extn("starttls")):
                if not smtp.has_extn("starttls"):
                    raise NotifyError(f"{host}:{port} does not offer STARTTLS "
                                      "(set starttls: auto or false)", permanent=True)
                smtp.starttls(context=context)
                smtp.ehlo()
                secure = True
            if user is not None:
                if not secure:
                    raise NotifyError(f"refusing to send the SMTP password to {host}:{port} "
                                      "without TLS (the server offers no STARTTLS)",
                                      permanent=True)
                smtp.login(user, password or "")
            smtp.send_message(message)
    except NotifyError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise NotifyError(f"SMTP login refused ({exc.smtp_code})", permanent=True) from None
    except smtplib.SMTPException as exc:
        if isinstance(exc.__context__, TimeoutError):  # smtplib's reply read timed out
            raise NotifyError(f"{host}:{port} did not answer within {timeout:g} s") from None
        raise NotifyError(f"SMTP error from {host}:{port}: {exc}") from None
    except ssl.SSLError as exc:
        raise NotifyError(f"TLS with {host}:{port} failed: {exc.reason or exc}") from None
    except TimeoutError:
        raise NotifyError(f"{host}:{port} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise NotifyError(f"cannot reach {host}:{port}: {exc.strerror or exc}") from None


def _command(spec: dict[str, Any], payload: dict[str, Any], root: Path,
             timeout: float) -> None:
    """Run ``argv`` with the JSON on stdin. No pipes: a command that starts a background
    process and exits (``notify ... &``) is done when it exits, not when the background
    process closes an inherited pipe. Its own process group: on timeout the whole group
    is killed, grandchildren included."""
    import tempfile

    argv = [str(a) for a in spec["argv"]]
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as stderr:
        stdin.write(json_payload(payload))
        stdin.seek(0)
        try:
            proc = start(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr,
                         cwd=root)
        except FileNotFoundError:
            raise NotifyError(f"command not found: {argv[0]}", permanent=True) from None
        except OSError as exc:
            raise NotifyError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise NotifyError(f"{argv[0]} did not finish within {timeout:g} s") from None
        except BaseException:  # Ctrl-C in 'alerts test': its own session does not get it
            kill_group(proc)
            raise
        if code != 0:
            stderr.seek(max(0, stderr.seek(0, os.SEEK_END) - 4096))
            last = stderr.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise NotifyError(f"{argv[0]} exited with code {code}"
                              + (f": {last[0][:200]}" if last[0] else ""))
