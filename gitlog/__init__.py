"""gitlog: a Git-backed, versioned store for machine-learning logs.

    import gitlog
    with gitlog.start("baseline", params={"lr": 0.1}) as run:
        for epoch in range(10):
            run.log_metric("loss", train_one_epoch())

Attributes load lazily so ``import gitlog`` (and the CLI) stay fast.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # the git hooks import this package: typing would cost them ~5 ms
    from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "start": ("gitlog.session", "start"),
    "Run": ("gitlog.run", "Run"),
    "active_run": ("gitlog.run", "active_run"),
    "GitlogError": ("gitlog.errors", "GitlogError"),
    "GitlogWarning": ("gitlog.recorder", "GitlogWarning"),
    "recover": ("gitlog.recover", "recover"),
    "list_experiments": ("gitlog.query", "list_experiments"),
    "show": ("gitlog.query", "show"),
    "LoggingHandler": ("gitlog.debugging", "LoggingHandler"),
    # The modules are not named like the functions: importing gitlog.history would
    # rebind gitlog.history to the module.
    "history": ("gitlog.timeline", "history"),
    "compare": ("gitlog.comparison", "compare"),
    "best": ("gitlog.ranking", "best"),
    "blame": ("gitlog.attribution", "blame"),
    "logs": ("gitlog.events", "logs"),
    "bisect": ("gitlog.bisection", "bisect"),
    "monitor": ("gitlog.deployment", "monitor"),
    "Monitor": ("gitlog.deployment", "Monitor"),
}

# The modules whose functions the README shows as gitlog.MODULE.FUNCTION.
_MODULES = frozenset({"hooks", "experiments", "promote", "debugging", "postcommit"})

__all__ = sorted([*_LAZY, "log_metric", "log_metrics", "log_param", "log_params",
                  "log_data", "log_model", "log_eval", "log_sample", "log_artifact",
                  "debug", "info", "warning", "error", "critical", "finish"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _MODULES:  # gitlog.experiments.new(...) without 'import gitlog.experiments'
        import importlib

        return importlib.import_module(f"gitlog.{name}")
    raise AttributeError(f"module 'gitlog' has no attribute {name!r}")


def _active() -> Any:
    from .run import active_run

    return active_run()


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """``log_metric`` on the active run."""
    _active().log_metric(name, value, step)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    _active().log_metrics(metrics, step)


def log_param(name: str, value: Any) -> None:
    _active().log_param(name, value)


def log_params(params: dict[str, Any]) -> None:
    _active().log_params(params)


def log_data(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return _active().log_data(*args, **kwargs)  # type: ignore[no-any-return]


def log_model(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return _active().log_model(*args, **kwargs)  # type: ignore[no-any-return]


def log_eval(*args: Any, **kwargs: Any) -> dict[str, float]:
    """``log_eval`` on the active run."""
    return _active().log_eval(*args, **kwargs)  # type: ignore[no-any-return]


def log_sample(name: str, /, inputs: Any = None, outputs: Any = None, **kwargs: Any) -> None:
    """``log_sample`` on the active run."""
    _active().log_sample(name, inputs, outputs, **kwargs)


def log_artifact(path: Any, name: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """``log_artifact`` on the active run."""
    return _active().log_artifact(path, name, **kwargs)  # type: ignore[no-any-return]


def debug(message: str, /, **fields: Any) -> None:
    _active().debug(message, **fields)


def info(message: str, /, **fields: Any) -> None:
    _active().info(message, **fields)


def warning(message: str, /, **fields: Any) -> None:
    _active().warning(message, **fields)


def error(message: str, /, **fields: Any) -> None:
    _active().error(message, **fields)


def critical(message: str, /, **fields: Any) -> None:
    _active().critical(message, **fields)


def finish(status: str = "completed") -> str | None:
    """Finish the active run."""
    return _active().finish(status)  # type: ignore[no-any-return]


# SIGTERM and SIGHUP write every live run's buffer before the process dies of them; set
# here, in the main thread, so that a run a worker thread starts is covered (sigarm.py)
from . import sigarm as _sigarm  # noqa: E402

_sigarm.arm()
