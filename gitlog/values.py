"""Turning what users log (params, descriptor fields) into YAML/JSON-safe data."""

from __future__ import annotations

import enum
import math
import numbers
import os
import struct
from collections.abc import Mapping, Sequence

from .errors import GitlogError, MetricValueError, NameError_

TYPE_CHECKING = False  # typing costs ~8 ms at start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

MAX_DEPTH = 20


def parse_number(text: str) -> float | int:
    """A number as a series file or a form holds it: an int stays an int."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def module_of(obj: Any) -> str:
    return str(getattr(type(obj), "__module__", "") or "")


def short_name(value: Any) -> str:
    """The name shown for an object that is not data: a class or function by its own
    name, an instance (a nested estimator, say) by its class name."""
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return str(getattr(value, "__qualname__", type(value).__qualname__))
    return type(value).__qualname__


# torch's names for a device, dtype, layout or memory format: stored as torch prints
# them ('cuda:0', 'torch.float32'), not as their class name ('device', 'dtype')
_TORCH_NAMES = frozenset({"device", "dtype", "layout", "memory_format"})


def config_items(value: Any) -> dict[str, Any] | None:
    """The fields of a config object as a dict: a mapping (OmegaConf's DictConfig too),
    an ``argparse.Namespace`` or a dataclass instance; None for anything else."""
    if isinstance(value, Mapping):
        try:
            return dict(value.items())
        except Exception:  # an OmegaConf value still '???' cannot be read
            return None
    cls = type(value)
    if cls.__name__ == "Namespace" and cls.__module__ == "argparse":
        return dict(vars(value))
    if hasattr(cls, "__dataclass_fields__") and not isinstance(value, type):
        import dataclasses  # here: the history fast path never loads it (~3 ms)

        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return None


# Narrow float types by their dtype's text, as struct packs them ("b": bfloat16, by hand).
# tolist() widens their numbers to a Python float that prints long: np.float32(0.1)
# became 0.10000000149011612, which `--where 'params.lr == 0.1'` did not match.
_NARROW_FLOATS = {"float32": "f", "float16": "e", "bfloat16": "b", "torch.float32": "f",
                  "torch.float16": "e", "torch.bfloat16": "b"}


def shortened(data: Any, dtype: Any) -> Any:
    """``data`` (a number, or nested lists of them, as ``tolist()`` of an array or tensor
    of ``dtype`` gives them) with each float32, float16 or bfloat16 number as the float
    its shortest text reads as: the number as numpy prints it (0.1) and the user wrote it.
    Other dtypes: ``data`` as it is."""
    kind = _kind(dtype)
    if kind is None:
        return data
    return _shortened(data, kind)


_KINDS: dict[Any, str | None] = {}  # the kind of each dtype seen (str() of one: ~4 µs)


def _kind(dtype: Any) -> str | None:
    """``_NARROW_FLOATS``' kind of ``dtype`` (None: not a narrow float), kept by dtype."""
    try:
        kind = _KINDS.get(dtype, "?")
        if kind == "?":
            kind = _KINDS[dtype] = _NARROW_FLOATS.get(str(dtype))
        return kind
    except TypeError:  # (an unhashable dtype)
        return _NARROW_FLOATS.get(str(dtype))


def shortened_item(scalar: Any, number: float) -> float:
    """``number``, the ``item()`` of a numpy or torch scalar (a metric's point), as
    ``shortened`` gives it; about 1 µs for a numpy float32."""
    kind = _kind(getattr(scalar, "dtype", None))
    if kind is None:
        return number
    if type(scalar).__module__ == "numpy" and getattr(scalar, "ndim", None) == 0:
        near = float(str(scalar))  # numpy prints the shortest text that reads back
        if near == number or _narrowed(near, kind) == number:
            return near
    return _shortened(number, kind)


def _shortened(data: Any, kind: str) -> Any:
    if isinstance(data, list):
        return [_shortened(item, kind) for item in data]
    if type(data) is not float or not math.isfinite(data):
        return data
    for digits in range(1, 10):  # 9 significant digits tell every float32 apart
        near = float(f"{data:.{digits}g}")
        try:
            if _narrowed(near, kind) == data:
                return near
        except OverflowError:  # rounded up past the type's largest number
            continue
    return data


def _narrowed(number: float, kind: str) -> float:
    """``number`` rounded to the narrow float type ``kind`` (to nearest, ties to even)."""
    if kind != "b":
        return float(struct.unpack(kind, struct.pack(kind, number))[0])
    bits = struct.unpack("<I", struct.pack("<f", number))[0]  # bfloat16: float32's top half
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16) & 0xFFFFFFFF
    return float(struct.unpack("<f", struct.pack("<I", bits))[0])


def plain(value: Any, _depth: int = 0) -> Any:
    """``value`` as YAML-safe data: numpy and torch scalars become Python numbers, arrays
    and tensors, tuples and sets lists, mappings (an OmegaConf DictConfig), an argparse
    Namespace and dataclasses dicts, paths strings, torch devices and dtypes their
    names ('cuda:0', 'torch.float32'), dates and times ISO 8601 strings, other objects
    their class name."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if _depth > MAX_DEPTH:
        return short_name(value)
    if isinstance(value, enum.Enum):
        return value.name
    if module_of(value) == "numpy" and hasattr(value, "tolist"):  # scalars and arrays
        return plain(shortened(value.tolist(), getattr(value, "dtype", None)), _depth + 1)
    for kind in (bool, int, float, str):  # subclasses: safe YAML dumpers reject them
        if isinstance(value, kind):
            return kind(value)
    if module_of(value) == "torch":
        if type(value).__name__ in _TORCH_NAMES:
            return str(value)
        if callable(getattr(value, "tolist", None)):  # a tensor (a 0-d one: a number)
            try:
                listed = value.detach().cpu().tolist()
                return plain(shortened(listed, getattr(value, "dtype", None)), _depth + 1)
            except Exception:
                pass
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [plain(v, _depth + 1) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    fields = config_items(value)
    if fields is not None:
        return {_plain_key(k, _depth): plain(v, _depth + 1) for k, v in fields.items()}
    if _is_sequence(value):  # OmegaConf's ListConfig
        return [plain(v, _depth + 1) for v in value]
    if isinstance(value, os.PathLike):
        return os.fsdecode(os.fspath(value))
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):  # Decimal, Fraction
        return float(value)
    item = getattr(value, "item", None)  # a one-element tensor
    if callable(item) and getattr(value, "numel", lambda: 0)() == 1:
        try:
            return plain(item(), _depth + 1)
        except Exception:
            pass
    isoformat = getattr(value, "isoformat", None)  # dates, times, pandas Timestamps
    if callable(isoformat) and not isinstance(value, type):
        try:
            return str(isoformat())
        except Exception:
            pass
    return short_name(value)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def _plain_key(key: Any, depth: int) -> Any:
    key = plain(key, depth + 1)
    return str(key) if isinstance(key, list) else key  # a tuple key: lists cannot be keys


def param_update(name: str, value: Any) -> dict[str, Any]:
    """``("optimizer.lr", 0.1)`` -> ``{"optimizer": {"lr": 0.1}}``: dots nest."""
    if not isinstance(name, str) or not name or "\n" in name:
        raise NameError_("param", str(name), "param names are non-empty one-line strings")
    update: dict[str, Any] = {}
    node = update
    parts = name.split(".")
    if "" in parts:  # a typo ('a..b', 'a.') stored an '' key no --where can name
        raise NameError_("param", name, "a dot with no name on one side",
                         hint="dots nest: write it like optimizer.lr")
    for part in parts[:-1]:
        node[part] = {}
        node = node[part]
    node[parts[-1]] = plain(value)
    return update


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into ``base`` in place (nested dicts merge, the rest replaces)."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def metric_value(name: str, value: Any) -> float | int:
    """A metric's value that is not a float or an int already, as one (a bool, a numpy or
    torch scalar: a float32 one as the number it prints); MetricValueError for anything
    that is no number. Plain floats and ints never come here (``Run.log_metric``)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (str, bytes, complex)) or value is None:
        raise MetricValueError(name, value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            number = item()
        except (ValueError, RuntimeError, TypeError):
            raise MetricValueError(name, value) from None
        if type(number) is float:  # a float32 as it prints (0.9), as params are
            return shortened_item(value, number)
        if type(number) is int:
            return number
        value = number
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise MetricValueError(name, value)


def step_number(step: Any) -> int:
    """A step given as anything but a plain int >= 0: an int (a numpy integer), or a
    GitlogError."""
    if isinstance(step, numbers.Integral) and not isinstance(step, bool) and int(step) >= 0:
        return int(step)
    raise GitlogError(f"step must be a whole number >= 0, got {step!r}",
                      hint="pass step=epoch (an int), or leave it out")
