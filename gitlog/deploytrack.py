"""``Monitor.track``: each call of a function is a request, whatever kind of function.

A plain wrapper timed a coroutine function's call (the coroutine is made, not run: a
microsecond, never an error) and a generator function's (the generator is made, not
iterated). The request now lasts as long as the work: until a coroutine's result, until
a generator's (or an async generator's) last item, and an exception raised there is the
request's error. A generator the consumer stops reading (closed early) is a request that
succeeded.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


def tracked(monitor: Any, fn: Callable[..., Any]) -> Callable[..., Any]:
    from .deployment import Request

    def inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return (args, kwargs) if kwargs else args

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def tracked_coroutine(*args: Any, **kwargs: Any) -> Any:
            with Request(monitor, inputs(args, kwargs)):
                return await fn(*args, **kwargs)
        return tracked_coroutine
    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def tracked_async_generator(*args: Any, **kwargs: Any) -> Any:
            with Request(monitor, inputs(args, kwargs)):
                async for item in fn(*args, **kwargs):
                    yield item
        return tracked_async_generator
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def tracked_generator(*args: Any, **kwargs: Any) -> Any:
            with Request(monitor, inputs(args, kwargs)):
                return (yield from fn(*args, **kwargs))
        return tracked_generator

    @functools.wraps(fn)
    def tracked_call(*args: Any, **kwargs: Any) -> Any:
        with Request(monitor, (args, kwargs) if kwargs else args):
            return fn(*args, **kwargs)
    return tracked_call
