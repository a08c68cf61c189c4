"""The ``alerts:`` section of ``.gitlog.yaml``: validation and parsed rules.

    alerts:
      notifiers:
        team: {type: slack, webhook_env: SLACK_WEBHOOK_URL}
        hook: {type: webhook, url: "http://127.0.0.1:8080/alerts"}
      rules:
        - {name: loss-nan, metric: loss, when: nan, notify: [hook]}
        - {name: acc-drop, metric: val_acc, when: drop, by: 0.05, notify: [team]}
        - {name: oom, event: "out of memory", level: error, notify: [team, hook]}

Secrets (webhook URLs, passwords, tokens) are never written in the file: a notifier
names the environment variable that holds each one (``*_env`` keys).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import LEVEL_NAMES, level_name
from ..errors import NameError_
from ..names import check_metric

METRIC_WHEN = ("nan", "spike", "threshold", "drop", "rise")
LIVE_WHEN = ("nan", "spike", "threshold")
COMMIT_WHEN = ("drop", "rise")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

COMMON = {"type", "retries", "backoff", "timeout"}
NOTIFIER_KEYS: dict[str, set[str]] = {
    "slack": {"webhook_env"},
    "webhook": {"url", "url_env", "token_env"},
    "email": {"to", "smtp_host", "smtp_port", "from", "starttls", "username_env",
              "password_env", "ca_file"},
    "command": {"argv"},
    "file": {"path"},
}
# Keys people reach for that would put a secret into the repository.
SECRET_KEYS = {"password": "password_env", "username": "username_env",
               "token": "token_env", "webhook": "webhook_env", "webhook_url": "webhook_env",
               "secret": "an environment variable named by a *_env key"}
RULE_KEYS = {"name", "metric", "when", "factor", "window", "by", "relative", "baseline",
             "above", "below", "event", "level", "notify"}


@dataclass
class Rule:
    name: str
    notify: list[str]
    metric: str | None = None
    when: str | None = None
    factor: float = 3.0
    window: int = 20
    by: float = 0.0
    relative: bool = False
    baseline: str | None = None
    above: float | None = None
    below: float | None = None
    event: str | None = None
    level: str | None = None
    pattern: Any = field(default=None, repr=False)

    @property
    def live(self) -> bool:
        return self.event is not None or self.level is not None or self.when in LIVE_WHEN

    @property
    def at_commit(self) -> bool:
        return self.when in COMMIT_WHEN


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def validate(alerts: Any, fail: Callable[[str], None]) -> None:
    """Check the ``alerts`` section; ``fail(problem)`` raises the config error."""
    if not isinstance(alerts, dict):
        fail("alerts must be a mapping with 'notifiers' and 'rules'")
        return
    unknown = set(alerts) - {"notifiers", "rules"}
    if unknown:
        fail(f"alerts: unknown key {sorted(unknown)[0]!r}; use 'notifiers' and 'rules'")
    notifiers = alerts.get("notifiers") or {}
    if not isinstance(notifiers, dict):
        fail("alerts.notifiers must be a mapping of name -> {type: ..., ...}")
    for name, spec in notifiers.items():
        _validate_notifier(str(name), spec, fail)
    rules = alerts.get("rules") or []
    if not isinstance(rules, list):
        fail("alerts.rules must be a list of rules")
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        _validate_rule(i, rule, set(map(str, notifiers)), seen, fail)


def _validate_notifier(name: str, spec: Any, fail: Callable[[str], None]) -> None:
    where = f"alerts.notifiers.{name}"
    if not isinstance(spec, dict):
        fail(f"{where} must be a mapping such as {{type: webhook, url: ...}}")
    kind = spec.get("type")
    if kind not in NOTIFIER_KEYS:
        fail(f"{where}.type must be one of {', '.join(NOTIFIER_KEYS)}, got {kind!r}")
    for key in spec:
        if key in SECRET_KEYS and key not in NOTIFIER_KEYS[kind]:
            fail(f"{where}.{key}: secrets never go in .gitlog.yaml; put the value in an "
                 f"environment variable and name it with {SECRET_KEYS[key]}")
        if key not in COMMON | NOTIFIER_KEYS[kind]:
            fail(f"{where}: unknown key {key!r} for a {kind} notifier; known keys: "
                 f"{', '.join(sorted(COMMON | NOTIFIER_KEYS[kind]))}")
    for key in spec:
        if key.endswith("_env") and (not isinstance(spec[key], str) or
                                     not _ENV.match(spec[key])):
            fail(f"{where}.{key} must name an environment variable, got {spec[key]!r}")
    retries = spec.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        fail(f"{where}.retries must be a whole number from 0 to 10, got {retries!r}")
    for key, low in (("backoff", 0), ("timeout", 0)):
        value = spec.get(key, 1)
        if not _number(value) or value < low or (key == "timeout" and value == 0) or \
                value > 300:
            fail(f"{where}.{key} must be a number of seconds "
                 f"({'above 0' if key == 'timeout' else '0 or more'}, at most 300), "
                 f"got {value!r}")
    if kind == "slack" and "webhook_env" not in spec:
        fail(f"{where}: a slack notifier needs webhook_env (the environment variable "
             "holding the incoming-webhook URL)")
    if kind == "webhook":
        if ("url" in spec) == ("url_env" in spec):
            fail(f"{where}: a webhook notifier needs exactly one of url or url_env")
        url = spec.get("url")
        if url is not None and (not isinstance(url, str) or
                                not url.startswith(("http://", "https://"))):
            fail(f"{where}.url must be an http:// or https:// URL, got {url!r}")
    if kind == "email":
        to = spec.get("to")
        if isinstance(to, str):
            to = [to]
        if not to or not isinstance(to, list) or not all(isinstance(a, str) and "@" in a
                                                          for a in to):
            fail(f"{where}.to must be a list of email addresses, got {spec.get('to')!r}")
        if not isinstance(spec.get("smtp_host"), str) or not spec["smtp_host"]:
            fail(f"{where}.smtp_host is required (the SMTP server's host name)")
        port = spec.get("smtp_port", 587)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            fail(f"{where}.smtp_port must be a port number, got {port!r}")
        if spec.get("starttls", "auto") not in (True, False, "auto"):
            fail(f"{where}.starttls must be true, false or auto, got {spec['starttls']!r}")
        if "ca_file" in spec and (not isinstance(spec["ca_file"], str) or not spec["ca_file"]):
            fail(f"{where}.ca_file must be the path of a PEM file of CA certificates, got "
                 f"{spec['ca_file']!r}")
        if ("username_env" in spec) != ("password_env" in spec):
            fail(f"{where}: give both username_env and password_env, or neither")
    if kind == "command":
        argv = spec.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            fail(f"{where}.argv must be a non-empty list of strings (no shell is used), "
                 f"got {argv!r}")
    if kind == "file" and (not isinstance(spec.get("path"), str) or not spec["path"]):
        fail(f"{where}.path is required (a file the alerts are appended to)")


def _validate_rule(i: int, rule: Any, notifiers: set[str], seen: set[str],
                   fail: Callable[[str], None]) -> None:
    if not isinstance(rule, dict):
        fail(f"alerts.rules[{i}] must be a mapping such as {{name: ..., metric: ..., "
             "when: ..., notify: [...]}")
    name = rule.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        fail(f"alerts.rules[{i}].name must be letters, digits, '-', '_' or '.', got {name!r}")
    where = f"alerts.rules[{name}]"
    if name in seen:
        fail(f"{where}: two rules are named {name!r}; rule names must be unique")
    seen.add(name)
    unknown = set(rule) - RULE_KEYS
    if unknown:
        fail(f"{where}: unknown key {sorted(unknown)[0]!r}; known keys: "
             f"{', '.join(sorted(RULE_KEYS))}")
    notify = rule.get("notify")
    if isinstance(notify, str):
        notify = [notify]
    if not isinstance(notify, list) or not notify:
        fail(f"{where}.notify must list the notifiers to tell, e.g. notify: [team]")
    for target in notify:
        if not isinstance(target, str):
            fail(f"{where}.notify must list notifier names, got {target!r}")
        if target not in notifiers:
            fail(f"{where}.notify: no notifier named {target!r} under alerts.notifiers"
                 + (f" (have: {', '.join(sorted(notifiers))})" if notifiers else ""))
    has_metric, has_event = "metric" in rule, "event" in rule or "level" in rule
    if has_metric == has_event:
        fail(f"{where}: a rule watches either a metric (metric + when) or events "
             "(event and/or level)")
    if has_event:
        _validate_event_rule(where, rule, fail)
        return
    if not isinstance(rule["metric"], str) or not rule["metric"]:
        fail(f"{where}.metric must be a metric name, got {rule['metric']!r}")
    try:  # a name log_metric refuses is never logged: the rule could never fire
        check_metric(rule["metric"])
    except NameError_ as exc:
        fail(f"{where}.metric: {exc}; such a metric is never logged, so the rule could "
             "never fire")
    when = rule.get("when")
    if when not in METRIC_WHEN:
        fail(f"{where}.when must be one of {', '.join(METRIC_WHEN)}, got {when!r}")
    allowed = {"spike": {"factor", "window"}, "threshold": {"above", "below"},
               "drop": {"by", "relative", "baseline"}, "rise": {"by", "relative", "baseline"},
               "nan": set()}[when]
    for key in ("factor", "window", "above", "below", "by", "relative", "baseline"):
        if key in rule and key not in allowed:
            fail(f"{where}.{key} does not apply to when: {when}")
    if when == "spike":
        factor, window = rule.get("factor", 3), rule.get("window", 20)
        if not _number(factor) or factor <= 1:
            fail(f"{where}.factor must be a number > 1, got {factor!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            fail(f"{where}.window must be a whole number of steps >= 1, got {window!r}")
    if when == "threshold":
        if "above" not in rule and "below" not in rule:
            fail(f"{where}: a threshold rule needs above and/or below")
        for key in ("above", "below"):
            if key in rule and not _number(rule[key]):
                fail(f"{where}.{key} must be a number, got {rule[key]!r}")
        if "above" in rule and "below" in rule and rule["above"] <= rule["below"]:
            fail(f"{where}: above ({rule['above']!r}) must be greater than below "
                 f"({rule['below']!r}); the rule fires on a value above 'above' or below "
                 "'below', so this one fires on every value")
    if when in COMMIT_WHEN:
        by = rule.get("by", 0)
        if isinstance(by, str) and by.endswith("%"):
            try:
                by = float(by[:-1])
            except ValueError:
                by = None
        if not _number(by) or by < 0:
            fail(f"{where}.by must be a number >= 0 (or a percentage like '5%'), "
                 f"got {rule.get('by')!r}")
        if not isinstance(rule.get("relative", False), bool):
            fail(f"{where}.relative must be true or false")
        if isinstance(rule.get("by"), str) and rule.get("relative") is False:
            fail(f"{where}: by: {rule['by']!r} is relative, but relative is false; give "
                 "by as a number, or drop relative")
        if "baseline" in rule and (not isinstance(rule["baseline"], str) or
                                   not rule["baseline"]):
            fail(f"{where}.baseline must name a branch or experiment, got "
                 f"{rule['baseline']!r}")


def _validate_event_rule(where: str, rule: dict[str, Any], fail: Callable[[str], None]) -> None:
    if "event" in rule:
        if not isinstance(rule["event"], str) or not rule["event"]:
            fail(f"{where}.event must be a regular expression, got {rule['event']!r}")
        try:
            re.compile(rule["event"])
        except re.error as exc:
            fail(f"{where}.event is not a valid regular expression: {exc}")
    if "level" in rule and (not isinstance(rule["level"], str) or
                            level_name(rule["level"]) is None):
        fail(f"{where}.level must be one of {LEVEL_NAMES}, got {rule['level']!r}")
    for key in ("when", "factor", "window", "by", "relative", "baseline", "above", "below"):
        if key in rule:
            fail(f"{where}.{key} applies to metric rules only")


def parse_rules(alerts: dict[str, Any]) -> list[Rule]:
    """Rules from a validated ``alerts`` section."""
    out = []
    for raw in alerts.get("rules") or []:
        notify = raw["notify"] if isinstance(raw["notify"], list) else [raw["notify"]]
        by = raw.get("by", 0)
        relative = bool(raw.get("relative", False))
        if isinstance(by, str):
            by, relative = float(by.rstrip("%")) / 100, True
        rule = Rule(name=raw["name"], notify=[str(n) for n in notify],
                    metric=raw.get("metric"), when=raw.get("when"),
                    factor=float(raw.get("factor", 3)), window=int(raw.get("window", 20)),
                    by=float(by), relative=relative, baseline=raw.get("baseline"),
                    above=raw.get("above"), below=raw.get("below"), event=raw.get("event"),
                    level=level_name(raw["level"]) if "level" in raw else None)
        if rule.event is not None:
            rule.pattern = re.compile(rule.event, re.IGNORECASE)
        out.append(rule)
    return out
