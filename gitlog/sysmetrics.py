"""Resource use while training: ``start(system_metrics=True)`` / ``gitlog run
--system-metrics``.

A daemon thread samples every ``system_metrics.interval`` seconds (psutil, the
``[monitor]`` extra; NVIDIA's NVML through ``pynvml`` when installed and a GPU is there)
and logs ``system/*`` series through ``Run.log_system`` (a step per sample, apart from
the run's training step):

    system/cpu_percent        CPU use of the process and its children (100 = one core)
    system/memory_mb          resident memory of the process and its children
    system/memory_percent     memory in use on the machine
    system/disk_percent       use of the disk holding the repository
    system/gpu<i>/utilization_percent, system/gpu<i>/memory_mb   per GPU, with NVML

When off, nothing is imported and no thread runs.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from .errors import GitlogError


def _psutil() -> Any:
    try:
        import psutil
    except ImportError:
        raise GitlogError("system metrics need psutil, which is not installed",
                          hint="pip install 'gitlog[monitor]'") from None
    return psutil


class _Gpus:
    """NVML handles, or nothing when pynvml or a GPU is missing."""

    def __init__(self) -> None:
        self.nvml: Any = None
        self.handles: list[Any] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i)
                            for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:
            self.nvml, self.handles = None, []

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, handle in enumerate(self.handles):
            try:
                util = self.nvml.nvmlDeviceGetUtilizationRates(handle)
                mem = self.nvml.nvmlDeviceGetMemoryInfo(handle)
            except Exception:
                continue
            out[f"system/gpu{i}/utilization_percent"] = float(util.gpu)
            out[f"system/gpu{i}/memory_mb"] = round(mem.used / 2**20, 1)
        return out

    def close(self) -> None:
        if self.nvml is not None:
            with contextlib.suppress(Exception):
                self.nvml.nvmlShutdown()


class SystemSampler:
    def __init__(self, run: Any, interval: float, pid: int | None = None) -> None:
        psutil = _psutil()
        self.run = run
        self.interval = interval
        self.psutil = psutil
        self.process = psutil.Process(pid)
        self.disk_path = str(run.repo.root)
        self.gpus = _Gpus()
        self._stop = threading.Event()
        self._cpu: dict[int, Any] = {}
        self._thread = threading.Thread(target=self._loop, name="gitlog-system-metrics",
                                        daemon=True)

    def start(self) -> None:
        self._cpu_percent()  # the first reading only primes psutil's counters
        self._log(cpu=False)
        self._thread.start()

    def _processes(self) -> list[Any]:
        try:
            return [self.process, *self.process.children(recursive=True)]
        except self.psutil.Error:
            return [self.process]

    def _cpu_percent(self) -> float:
        total = 0.0
        seen = {}
        for proc in self._processes():
            known = self._cpu.get(proc.pid, proc)
            try:
                total += known.cpu_percent(None)
            except self.psutil.Error:
                continue
            seen[proc.pid] = known
        self._cpu = seen
        return total

    def sample(self, cpu: bool = True) -> dict[str, float]:
        ps = self.psutil
        try:
            rss = self.process.memory_info().rss
        except ps.Error:  # exited (or a zombie): no reading rather than a false zero
            return {}
        for proc in self._processes()[1:]:
            try:
                rss += proc.memory_info().rss
            except ps.Error:
                continue
        values = {"system/cpu_percent": round(self._cpu_percent(), 1)} if cpu else {}
        values.update({"system/memory_mb": round(rss / 2**20, 1),
                       "system/memory_percent": float(ps.virtual_memory().percent)})
        with contextlib.suppress(OSError):
            values["system/disk_percent"] = float(ps.disk_usage(self.disk_path).percent)
        values.update(self.gpus.sample())
        return values

    def _loop(self) -> None:
        from .sigflush import off_this_thread

        off_this_thread()
        while not self._stop.wait(self.interval):
            self._log()

    def _log(self, cpu: bool = True) -> None:
        try:
            if not self.process.is_running():
                return
            values = self.sample(cpu)
        except Exception:  # monitoring must never kill the training run
            return
        for name, value in values.items():
            with contextlib.suppress(Exception):
                self.run.log_system(name, value)

    def stop(self, run: Any = None) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=max(5.0, self.interval))
        self._log()  # the last reading (a series needs at least one point)
        self.gpus.close()


def start_sampling(run: Any, interval: float | None = None,
                   pid: int | None = None) -> SystemSampler | None:
    """Sample ``pid`` (default: this process) and the machine into ``run``'s system/*
    series until the run finishes."""
    psutil = _psutil()
    try:
        sampler = SystemSampler(run, float(interval or
                                           run.config["system_metrics"]["interval"]), pid)
    except psutil.Error:  # the process is already gone: nothing to sample
        return None
    sampler.start()
    run.add_finish_hook(sampler.stop, "closing")
    return sampler
