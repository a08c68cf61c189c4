"""``.gitlog.yaml``: loading with defaults, validation, and round-trip writing.

Reading uses ruamel.yaml's safe loader; writing (``gitlog init``) goes through its
round-trip mode so the user's comments survive.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

from .errors import ConfigError
from .names import check_experiment, ref_component_problem
from .values import deep_merge

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

CONFIG_FILE = ".gitlog.yaml"
LEVELS = ("debug", "info", "warning", "error", "critical")
# logging's other names for them (``logging.getLevelName('WARN')``); NOTSET: everything
_ALIASES = {"warn": "warning", "fatal": "critical", "notset": "debug"}
LEVEL_NAMES = "debug, info, warning, error, critical (any case; warn, fatal, notset too)"


def level_name(level: object) -> str | None:
    """gitlog's name for a level as ``logging`` takes it (any case: ``WARN``,
    ``Warning``); None when it names none."""
    text = str(level).strip().lower()
    return text if text in LEVELS else _ALIASES.get(text)


DEFAULTS: dict[str, Any] = {
    "experiment_prefix": "exp/",
    "deploy_prefix": "deploy/",
    "main_branch": "main",
    "experiment": None,
    "log_dir": ".gitlog",
    "flush_interval": 2.0,
    "log_level": "info",
    "metrics": {"key": ["loss", "accuracy"], "better": {}, "aliases": {}},
    "capture": {"max_lines": 10000},
    "samples": {"size": 20},
    "system_metrics": {"interval": 5.0},
    "alerts": {"notifiers": {}, "rules": []},
    "remote": {"git": "origin", "dvc": None},
    "reproduce": {"rtol": 0.001},
    "hooks": {
        "code_paths": ["*"],
        "ignore_paths": ["*.md", "*.rst", "docs/*", "LICENSE*", "*.gitignore"],
        "required_params": [],
        "required_metrics": [],
        "max_file_mb": 10,
        "trailers": True,
        "dvc_push": True,
        "dvc_checkout": True,
    },
}


class Config:
    """The effective configuration: the file's values over the defaults."""

    __slots__ = ("data", "path")

    def __init__(self, data: dict[str, Any] | None = None, path: Path | None = None) -> None:
        self.data = copy.deepcopy(DEFAULTS) if data is None else data
        self.path = path

    def __repr__(self) -> str:
        return f"Config(path={self.path!r})"

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def prefix(self) -> str:
        return str(self.data["experiment_prefix"])

    @property
    def log_dir(self) -> str:
        return str(self.data["log_dir"])

    def branch(self, experiment: str) -> str:
        return f"refs/heads/{self.prefix}{experiment}"

    def deploy_branch(self, model: str) -> str:
        """The branch a served model's deployment windows go to (``deploy/MODEL``)."""
        return f"refs/heads/{self.data['deploy_prefix']}{model}"

    def series(self, metric: str) -> list[str]:
        """``metric`` and the other names of its series (``metrics.aliases``)."""
        for canonical, others in (self.data["metrics"].get("aliases") or {}).items():
            group = [str(canonical), *(str(o) for o in others)]
            if metric in group:
                return [metric, *(g for g in group if g != metric)]
        return [metric]

    def better(self, metric: str) -> str:
        """'lower', 'higher' or 'none': which direction improves ``metric`` ('none': a
        counter or a setting, a step or a learning rate, whose moves get no verdict). The
        names of one series (``metrics.aliases``) share it: the first of them configured
        (``metric`` first), else lower when any of them is loss-like, none when any is a
        counter or setting."""
        configured = self.data["metrics"].get("better") or {}
        if metric in configured:
            return str(configured[metric])
        names = self.series(metric)
        for name in names[1:]:
            if name in configured:
                return str(configured[name])
        if any(_loss_like(name) for name in names):
            return "lower"
        return "none" if any(_neutral(name) for name in names) else "higher"

    def lower(self, metric: str) -> bool | None:
        """Whether lower is better for ``metric`` (None: neither, ``better`` is 'none')."""
        way = self.better(metric)
        return None if way == "none" else way == "lower"


# Words that make a metric lower-is-better by default: losses, errors and perplexity, and what a
# service or a run costs (latency, memory).
_LOWER_WORDS = ("loss", "error", "err", "mse", "mae", "perplexity", "latency", "memory")


# A last part that only says which statistic of its group it is: 'latency/p99' and
# 'errors/rate' go the group's way.
_STAT_LEAVES = frozenset({"rate", "count", "total", "mean", "avg", "median", "min", "max",
                          "sum", "ms", "s", "value"})


# Names of counters and settings, neither better nor worse when they move: where a run
# stopped, the learning rate a schedule set, how much traffic a deployed model served, how
# busy the machine was (a busier CPU or GPU is a better-fed one, or a costlier one).
_NEUTRAL_NAMES = frozenset({"step", "steps", "epoch", "epochs", "iteration", "iterations",
                            "lr", "learning_rate", "requests", "requests_per_s",
                            "cpu_percent", "utilization_percent", "disk_percent"})


def _leaf(metric: str) -> str:
    """The part of a metric's name that says what it measures: its last, or the one
    before it when the last only names a statistic ('latency/p99': 'latency')."""
    parts = metric.lower().split("/")
    leaf = parts[-1]
    if len(parts) > 1 and (leaf in _STAT_LEAVES or
                           leaf[:1] == "p" and leaf[1:].replace(".", "", 1).isdigit()):
        leaf = parts[-2]
    return leaf


def _loss_like(metric: str) -> bool:
    leaf = _leaf(metric)
    return any(w in leaf for w in _LOWER_WORDS)


def _neutral(metric: str) -> bool:
    return _leaf(metric) in _NEUTRAL_NAMES


def load(root: str | Path) -> Config:
    """Load ``<root>/.gitlog.yaml`` over the defaults; a missing file means defaults.

    The parsed and validated result is kept in the git dir (``configcache``) next to
    the exact text it came from, so a command whose config did not change skips the
    YAML parser (and its ~20 ms import); any change to the text (or to gitlog) parses
    it again.
    """
    path = Path(root) / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(str(path), exc.strerror or str(exc)) from None
    from . import configcache

    gitlog_dir = _gitlog_dir(Path(root))
    data = configcache.read(gitlog_dir, text) if gitlog_dir is not None else None
    if data is not None:
        return Config(data, path)
    config = parse(text, str(path))
    if gitlog_dir is not None:
        configcache.write(gitlog_dir, text, config.data)
    return config


def _gitlog_dir(root: Path) -> Path | None:
    """``<git dir>/gitlog`` of the repository at ``root`` (None outside one)."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git / "gitlog"
    try:  # a worktree or submodule: '.git' is a file naming the git dir
        line = dot_git.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not line.startswith("gitdir: "):
        return None
    return (root / line[len("gitdir: "):]).resolve() / "gitlog"


def parse(text: str, path: str = CONFIG_FILE) -> Config:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        raw = YAML(typ="safe", pure=True).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "YAML syntax error"
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise ConfigError(path, problem, line, col) from None
    except YAMLError as exc:
        raise ConfigError(path, str(exc).splitlines()[0]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, f"the top level must be a mapping, not {type(raw).__name__}")
    _refuse_unknown(raw, path)
    data = deep_merge(copy.deepcopy(DEFAULTS), raw)
    _validate(data, path)
    return Config(data, Path(path))


def _refuse_unknown(raw: dict[Any, Any], path: str) -> None:
    """A key gitlog does not read (a typo such as ``log_levle``, ``metrics.keys``, or a
    dotted ``metrics.key:`` at the top) is an error, not a setting silently ignored.
    ``alerts`` checks its own keys (``alerts.spec``); ``better`` and ``aliases`` are
    free maps of metric names."""
    for key, value in raw.items():
        if key not in DEFAULTS:
            _unknown(str(key), list(DEFAULTS), path)
        known = DEFAULTS[key]
        if key != "alerts" and isinstance(known, dict) and isinstance(value, dict):
            for sub in value:
                if sub not in known:
                    _unknown(f"{key}.{sub}", [f"{key}.{k}" for k in known], path)


def _unknown(key: str, known: list[str], path: str) -> None:
    import difflib

    section, _, rest = key.partition(".")
    if rest and "." not in known[0] and isinstance(DEFAULTS.get(section), dict) and \
            rest in DEFAULTS[section]:
        raise ConfigError(path, f"unknown key {key!r}: write it nested, "
                                f"'{section}:' then '  {rest}: ...' on the next line")
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    raise ConfigError(path, f"unknown key {key!r}" + (
        f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(known)}"))


def _validate(data: dict[str, Any], path: str) -> None:
    def fail(problem: str) -> None:
        raise ConfigError(path, problem)

    prefix = data["experiment_prefix"]
    if not isinstance(prefix, str) or not prefix.endswith("/") or \
            ref_component_problem(prefix.rstrip("/")):
        fail(f"experiment_prefix must be a branch folder ending in '/', got {prefix!r}")
    deploy = data["deploy_prefix"]
    if not isinstance(deploy, str) or not deploy.endswith("/") or \
            ref_component_problem(deploy.rstrip("/")):
        fail(f"deploy_prefix must be a branch folder ending in '/', got {deploy!r}")
    if deploy == prefix:
        fail(f"deploy_prefix and experiment_prefix are both {prefix!r}: deployment windows "
             "would mix with experiment runs")
    if not isinstance(data["main_branch"], str) or ref_component_problem(data["main_branch"]):
        fail(f"main_branch must be a branch name, got {data['main_branch']!r}")
    if data["experiment"] is not None and not isinstance(data["experiment"], str):
        fail(f"experiment must be an experiment name or null, got {data['experiment']!r}")
    if data["experiment"] is not None:
        try:
            check_experiment(data["experiment"])
        except Exception as exc:  # re-raised as a config error with the file named
            fail(f"experiment: {exc}")
    log_dir = data["log_dir"]
    if not isinstance(log_dir, str) or not log_dir or log_dir.startswith("/") or \
            any(p in ("", ".", "..", ".git") for p in log_dir.split("/")):
        fail(f"log_dir must be a relative folder inside the repository, got {log_dir!r}")
    interval = data["flush_interval"]
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or \
            not math.isfinite(interval) or interval <= 0:
        fail(f"flush_interval must be a positive number of seconds, got {interval!r}")
    if not isinstance(data["log_level"], str) or level_name(data["log_level"]) is None:
        fail(f"log_level must be one of {LEVEL_NAMES}, got {data['log_level']!r}")
    metrics = data["metrics"]
    if not isinstance(metrics, dict):
        fail("metrics must be a mapping")
    if not _names(metrics.get("key")):
        fail(f"metrics.key must be a list of metric names, got {metrics.get('key')!r}")
    for part, example in (("better", "{accuracy: higher}"), ("aliases", "{loss: [train_loss]}")):
        value = metrics.get(part) or {}
        if not isinstance(value, dict) or not _names(list(value)):
            fail(f"metrics.{part} must be a mapping of metric names like {example}, "
                 f"got {value!r}")
    for name, way in (metrics.get("better") or {}).items():
        if way not in ("lower", "higher", "none"):
            fail(f"metrics.better.{name} must be 'lower', 'higher' or 'none', got {way!r}")
    for name, names in (metrics.get("aliases") or {}).items():
        if not _names(names):
            fail(f"metrics.aliases.{name} must be a list of names, got {names!r}")
    max_lines = data["capture"].get("max_lines") if isinstance(data["capture"], dict) else None
    if isinstance(max_lines, bool) or not isinstance(max_lines, int) or max_lines < 0:
        fail(f"capture.max_lines must be a whole number >= 0, got {max_lines!r}")
    _validate_debugging(data, fail)
    _validate_sharing(data, fail)
    _validate_hooks(data["hooks"], fail)


def _names(value: Any) -> bool:
    """Whether ``value`` is a list of metric names (text, not empty)."""
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _validate_debugging(data: dict[str, Any], fail: Any) -> None:
    from .alerts.spec import validate as validate_alerts

    size = data["samples"].get("size") if isinstance(data["samples"], dict) else None
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= 10000:
        fail(f"samples.size must be a whole number from 0 to 10000, got {size!r}")
    interval = data["system_metrics"].get("interval") \
        if isinstance(data["system_metrics"], dict) else None
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or \
            not math.isfinite(interval) or interval <= 0:
        fail(f"system_metrics.interval must be a positive number of seconds, got {interval!r}")
    validate_alerts(data["alerts"], fail)


def _validate_sharing(data: dict[str, Any], fail: Any) -> None:
    remote = data["remote"]
    if not isinstance(remote, dict):
        fail("remote must be a mapping with keys git and dvc")
    if not isinstance(remote.get("git"), str) or not remote["git"]:
        fail(f"remote.git must be the name of a git remote, got {remote.get('git')!r}")
    if remote.get("dvc") is not None and (not isinstance(remote["dvc"], str) or
                                          not remote["dvc"]):
        fail(f"remote.dvc must be a DVC remote name or null, got {remote['dvc']!r}")
    rtol = data["reproduce"].get("rtol") if isinstance(data["reproduce"], dict) else None
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or \
            not math.isfinite(rtol) or rtol < 0:
        fail(f"reproduce.rtol must be a number >= 0, got {rtol!r}")


def _validate_hooks(hooks: Any, fail: Any) -> None:
    if not isinstance(hooks, dict):
        fail("hooks must be a mapping")
    for key in ("code_paths", "ignore_paths", "required_params", "required_metrics"):
        value = hooks.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            fail(f"hooks.{key} must be a list of names or patterns, got {value!r}")
    size = hooks.get("max_file_mb")
    if isinstance(size, bool) or not isinstance(size, (int, float)) or \
            not math.isfinite(size) or size < 0:
        fail(f"hooks.max_file_mb must be a number of megabytes >= 0 (0: no limit), got {size!r}")
    for key in ("trailers", "dvc_push", "dvc_checkout"):
        if not isinstance(hooks.get(key), bool):
            fail(f"hooks.{key} must be true or false, got {hooks.get(key)!r}")


def write_default(root: str | Path) -> bool:
    """Write the commented template to ``<root>/.gitlog.yaml``; False if one exists."""
    from .resources import template

    path = Path(root) / CONFIG_FILE
    if path.exists():
        load(root)  # an existing file must still be valid
        return False
    path.write_text(template("gitlog.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return True


def update(root: str | Path, key_path: list[str], value: Any) -> None:
    """Set one key in ``.gitlog.yaml``, keeping comments and order (round-trip)."""
    from ruamel.yaml import YAML

    path = Path(root) / CONFIG_FILE
    yaml = YAML()
    doc = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
    if doc is None:
        from ruamel.yaml.comments import CommentedMap
        doc = CommentedMap()
    node = doc
    for key in key_path[:-1]:
        if key not in node or not isinstance(node[key], dict):
            node[key] = {}
        node = node[key]
    node[key_path[-1]] = value
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(doc, fh)
    load(root)
