"""A run's files as the git hooks read them: cheaply, from blobs.

``run.yaml`` is YAML, but the few facts a hook needs (id, experiment, code tree) are
top-level scalars that gitlog writes plainly; they are read here without a YAML parser,
which costs ~40 ms to import. Anything unusual (quoting, folded lines) goes to ruamel.
"""

from __future__ import annotations

import math

# What a run writes into its log folder, all of it: these files, and the series, plots
# and artifact pointers in their folders. A new run in the working tree (the workspace
# workflow) replaces these and leaves anything else the user keeps there.
RUN_FILES = frozenset(("run.yaml", "params.yaml", "metrics.json", "data.yaml", "model.yaml",
                       "events.jsonl"))
RUN_FOLDERS = {"metrics": ".tsv", "plots": ".json", "artifacts": ".dvc"}


def is_run_file(rel: str) -> bool:
    """Whether ``rel``, a '/'-separated path inside the log folder, is one a run writes."""
    top, _, rest = rel.partition("/")
    if not rest:
        return top in RUN_FILES
    return top in RUN_FOLDERS and rest.endswith(RUN_FOLDERS[top])


_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_PLAIN_FIRST = _LETTERS | frozenset("0123456789")
_PLAIN_REST = _PLAIN_FIRST | frozenset(".-/@+")
_HEX = frozenset("0123456789abcdef")
_NOT_STRINGS = frozenset(("true", "false", "null", "yes", "no", "on", "off", "y", "n"))


def _plain_string(value: str, key: str) -> str | None:
    """``value`` if YAML reads it as this very string, else None (unsure)."""
    if len(value) >= 2 and value[0] == value[-1] == "'" and "'" not in value[1:-1]:
        return value[1:-1]
    if key == "code_tree" and value and set(value) <= _HEX:
        return value
    if value and value[0] in _PLAIN_FIRST and set(value) <= _PLAIN_REST \
            and value.lower() not in _NOT_STRINGS and not _maybe_number_or_date(value):
        return value
    return None


def _maybe_number_or_date(value: str) -> bool:
    """Whether YAML might read ``value`` as an int, float or timestamp (run ids such as
    ``20240105-101500-a1b2c3`` are none of these)."""
    if value[0] in _LETTERS and value.lower() not in ("inf", "nan", "infinity"):
        return False
    try:
        float(value.replace("_", ""))
        return True
    except ValueError:
        pass
    if value.lstrip("+-")[:2].lower() in ("0x", "0o", "0b"):
        return True
    parts = value.split("-")
    return len(parts) >= 3 and len(parts[0]) == 4 and parts[0].isdigit() and \
        parts[1].isdigit() and len(parts[1]) <= 2 and parts[2][:1].isdigit()


def run_facts(data: bytes, keys: tuple[str, ...] = ("id", "experiment", "code_tree")) -> dict:
    """{key: str or None} for top-level scalars of a ``run.yaml``.

    Raises ValueError when the file is not a YAML mapping.
    """
    facts: dict = {}
    lines = data.decode("utf-8", "replace").split("\n")
    for i, line in enumerate(lines):
        key, sep, value = line.partition(": ")
        if not sep and line.endswith(":"):  # "key:" opens a nested block
            key, sep, value = line[:-1], ":", ""
        if key not in keys or not sep:
            continue
        folded = i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t")
        if value == "null" and not folded:
            facts[key] = None
            continue
        plain = None if folded else _plain_string(value.rstrip(), key)
        if plain is None:
            return _parse_facts(data, keys)
        facts[key] = plain
    if len(facts) < len(keys):  # a key gitlog always writes is missing: look closer
        return _parse_facts(data, keys)
    return facts


def _parse_facts(data: bytes, keys: tuple[str, ...]) -> dict:
    from .layout import yaml_load

    try:
        doc = yaml_load(data)
    except Exception as exc:
        raise ValueError(f"not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise ValueError("not a mapping")
    return {k: None if doc.get(k) is None else str(doc[k]) for k in keys}


def leaves(tree: object, prefix: str = "", empty: bool = False):  # type: ignore[no-untyped-def]
    """(name, value) of every leaf of a nested mapping; names joined with '/'. With
    ``empty``, an empty mapping inside it (``kwargs: {}``) is a leaf too, ``{}``."""
    if isinstance(tree, dict):
        if empty and not tree and prefix:
            yield prefix[:-1], {}
        for key, value in tree.items():
            yield from leaves(value, f"{prefix}{key}/", empty)
    elif prefix:
        yield prefix[:-1], tree


def is_finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def summary_line(metrics: dict, previous: dict | None, keys: list, limit: int = 5) -> str:
    """``loss=0.231 (-0.012) accuracy=0.941``: key metrics, with the change from the
    previous run where it had the metric too."""
    flat = {k: v for k, v in leaves(metrics) if k != "step" and not isinstance(v, bool)
            and isinstance(v, (int, float))}
    before = dict(leaves(previous)) if isinstance(previous, dict) else {}
    chosen = [k for k in keys if k in flat] or sorted(flat)[:limit]
    parts = []
    for key in chosen[:limit]:
        text = f"{key}={_fmt(flat[key])}"
        old = before.get(key)
        if isinstance(old, (int, float)) and is_finite_number(old) and \
                is_finite_number(flat[key]):
            text += f" ({flat[key] - old:+.3g})"
        parts.append(text)
    return " ".join(parts)


_CONSTANTS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class _ScanContext:
    # What json.JSONDecoder hands the C scanner.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


def loads_json(data: bytes) -> object:
    """``json.loads`` for the hooks, without importing ``json``.

    ``json`` imports ``re`` and with it ``enum``, ~8 ms that two hooks of every commit
    would pay; the C scanner ``json.loads`` itself uses needs neither. Raises ValueError
    on bad JSON, like ``json.loads``.
    """
    try:
        from _json import make_scanner
    except ImportError:  # another Python: the plain way
        import json

        return json.loads(data)
    text = data.decode("utf-8")
    whitespace = " \t\n\r"
    start = len(text) - len(text.lstrip(whitespace))
    try:
        value, end = make_scanner(_ScanContext)(text, start)  # type: ignore[arg-type]
    except StopIteration as exc:
        raise ValueError(f"not JSON: nothing to read at character {exc.value}") from None
    if text[end:].strip(whitespace):
        raise ValueError(f"not JSON: extra data at character {end}")
    return value


def glob_match(name: str, pattern: str) -> bool:
    """``fnmatch.fnmatchcase`` (``*`` also matches ``/``) without importing ``re``."""
    n = p = 0
    star, mark = -1, 0
    while n < len(name):
        if p < len(pattern) and pattern[p] == "*":
            star, mark, p = p, n, p + 1
            continue
        if p < len(pattern):
            matched, after = _match_one(pattern, p, name[n])
            if matched:
                n, p = n + 1, after
                continue
        if star < 0:
            return False
        mark += 1
        n, p = mark, star + 1
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def _match_one(pattern: str, p: int, char: str) -> tuple[bool, int]:
    """Whether ``char`` matches the pattern item at ``p``, and where the next item is."""
    item = pattern[p]
    if item == "?":
        return True, p + 1
    if item == "[":
        i = p + 1
        negate = i < len(pattern) and pattern[i] == "!"
        i += negate
        first = i
        if i < len(pattern) and pattern[i] == "]":
            i += 1
        close = pattern.find("]", i)
        if close >= 0:
            body = pattern[first:close]
            found, k = False, 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    found = found or body[k] <= char <= body[k + 2]
                    k += 3
                else:
                    found = found or body[k] == char
                    k += 1
            return found != negate, close + 1
    return item == char, p + 1
