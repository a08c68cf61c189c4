"""`.gitlog.yaml`: defaults, validation, errors with line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitlog import config
from gitlog.errors import ConfigError
from tests.conftest import run_cli


def test_defaults_without_a_file(tmp_path: Path) -> None:
    cfg = config.load(tmp_path)
    assert cfg.prefix == "exp/" and cfg.log_dir == ".gitlog"
    assert cfg.branch("a") == "refs/heads/exp/a"
    assert cfg.better("val_loss") == "lower" and cfg.better("accuracy") == "higher"


def test_template_is_valid_and_equals_defaults() -> None:
    from gitlog.resources import template

    cfg = config.parse(template("gitlog.yaml").read_text())
    assert cfg.data == config.DEFAULTS


def test_values_override_defaults(tmp_path: Path) -> None:
    (tmp_path / ".gitlog.yaml").write_text(
        "experiment_prefix: runs/\nmetrics:\n  better: {score: lower}\n")
    cfg = config.load(tmp_path)
    assert cfg.branch("x") == "refs/heads/runs/x"
    assert cfg.better("score") == "lower"
    assert cfg["metrics"]["key"] == ["loss", "accuracy"]


@pytest.mark.parametrize("text, where", [
    ("a: [1, 2\n", (2, 1)),
    ("log_dir: .gitlog\n  bad indent: 1\n", (2, 13)),
    ("metrics:\n  key: {loss\n", (3, 1)),
])
def test_syntax_errors_name_line_and_column(tmp_path: Path, text: str, where: tuple) -> None:
    (tmp_path / ".gitlog.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path)
    assert (info.value.line, info.value.column) == where
    assert f".gitlog.yaml:{where[0]}:{where[1]}" in str(info.value)


@pytest.mark.parametrize("text, word", [
    ("log_dir: ../outside\n", "log_dir"),
    ("log_dir: /abs\n", "log_dir"),
    ("experiment_prefix: exp\n", "experiment_prefix"),
    ("deploy_prefix: deploy\n", "deploy_prefix"),
    ("deploy_prefix: exp/\n", "deploy_prefix and experiment_prefix"),
    ("flush_interval: 0\n", "flush_interval"),
    ("log_level: loud\n", "log_level"),
    ("metrics: {better: {loss: down}}\n", "metrics.better.loss"),
    ("experiment: 'bad name'\n", "experiment"),
    ("- a list\n", "mapping"),
])
def test_invalid_values_are_named(tmp_path: Path, text: str, word: str) -> None:
    (tmp_path / ".gitlog.yaml").write_text(text)
    with pytest.raises(ConfigError, match=word.replace(".", r"\.")):
        config.load(tmp_path)


def test_update_keeps_comments(tmp_path: Path) -> None:
    config.write_default(tmp_path)
    config.update(tmp_path, ["metrics", "better", "score"], "lower")
    text = (tmp_path / ".gitlog.yaml").read_text()
    assert "# Which way is better" in text and "score: lower" in text
    assert config.load(tmp_path).better("score") == "lower"


def test_config_cache_follows_the_text(repo: Path) -> None:
    """A command reads the cached parse only while .gitlog.yaml holds the same text."""
    import os

    from tests.conftest import run_python

    path = repo / ".gitlog.yaml"
    path.write_text("experiment_prefix: runs/\n")
    assert config.load(repo).prefix == "runs/"
    from gitlog.configcache import CACHE_FILE

    cache = repo / ".git" / "gitlog" / CACHE_FILE
    assert cache.exists()
    probe = "import sys, gitlog.config as c; print(c.load('.').prefix, 'ruamel' in sys.modules)"
    assert run_python(probe, cwd=repo).stdout.split() == ["runs/", "False"]
    before = path.stat()  # same size, same times: the text alone decides
    path.write_text("experiment_prefix: sets/\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert config.load(repo).prefix == "sets/"
    cache.write_bytes(b"garbage")
    assert config.load(repo).prefix == "sets/"
    path.write_text("log_level: loud\n")
    with pytest.raises(ConfigError, match="log_level"):
        config.load(repo)


@pytest.mark.parametrize("text, problem", [
    ("metrics: {aliases: 3}\n",
     "metrics.aliases must be a mapping of metric names like {loss: [train_loss]}, got 3"),
    ("metrics: {aliases: [loss]}\n", "metrics.aliases must be a mapping of metric names "
                                     "like {loss: [train_loss]}, got ['loss']"),
    ("metrics: {aliases: {loss: [1]}}\n", "metrics.aliases.loss must be a list of names, got [1]"),
    ("metrics: {better: [loss]}\n", "metrics.better must be a mapping of metric names like "
                                    "{accuracy: higher}, got ['loss']"),
    ("metrics: {better: {3: lower}}\n", "metrics.better must be a mapping of metric names "
                                        "like {accuracy: higher}, got {3: 'lower'}"),
    ("metrics: {key: [[loss]]}\n", "metrics.key must be a list of metric names, got [['loss']]"),
    ("experiment: [a]\n", "experiment must be an experiment name or null, got ['a']"),
])
def test_a_metrics_setting_of_the_wrong_shape_is_a_config_error(
        repo: Path, text: str, problem: str) -> None:
    """These crashed every command with exit 3 ('unexpected AttributeError ... please
    report it'): the config was read as if it had the right shape."""
    assert_config_error(repo, text, problem)


@pytest.mark.parametrize("text, problem", [
    ("log_levle: debug\n", "unknown key 'log_levle' (did you mean 'log_level'?)"),
    ("metric:\n  key: [f1]\n", "unknown key 'metric' (did you mean 'metrics'?)"),
    ("metrics:\n  keys: [f1]\n", "unknown key 'metrics.keys' (did you mean 'metrics.key'?)"),
    ("hooks: {max_file: 3}\n", "unknown key 'hooks.max_file' (did you mean 'hooks.max_file_mb'?)"),
    ("metrics.key: [f1]\n", "unknown key 'metrics.key': write it nested, 'metrics:' then "
                            "'  key: ...' on the next line"),
    ("zzz: 1\n", "unknown key 'zzz'; known keys: experiment_prefix, deploy_prefix, main_branch, "
                 "experiment, log_dir, flush_interval, log_level, metrics, capture, samples, "
                 "system_metrics, alerts, remote, reproduce, hooks"),
])
def test_a_key_gitlog_does_not_read_is_an_error_not_ignored(
        repo: Path, text: str, problem: str) -> None:
    """A misspelt key (or the README table's dotted name written as one key) was silently
    ignored: `gitlog ls` showed loss and accuracy with 'metrics.key: [f1]' in the file."""
    assert_config_error(repo, text, problem)
    (repo / ".gitlog.yaml").write_text("metrics:\n  key: [f1]\n  better: {f1: higher}\n"
                                       "  aliases: {f1: [eval/f1]}\n")
    assert config.load(repo)["metrics"]["key"] == ["f1"]


def assert_config_error(repo: Path, text: str, problem: str) -> None:
    """With ``text`` as .gitlog.yaml, ``gitlog ls`` is the config error ``problem``."""
    (repo / ".gitlog.yaml").write_text(text)
    proc = run_cli("ls", cwd=repo)
    path = repo / ".gitlog.yaml"
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, "", f"Error: invalid config {path}: {problem}\n"
               f"hint: fix {path} (or delete it and run 'gitlog init')\n")
