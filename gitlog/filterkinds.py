"""What ``--where`` compares: the kind of a value (number, text, true/false), text that
reads as a number taken as that number beside one, and the error for an ordering that
compares two kinds in every run (``params.optimizer < 3``: a typo, never a filter).

    params.lr < 0.2       lr: 0.1 or lr: '0.1' (text as argparse gives it): both kept
    params.optimizer == 3 optimizer: sgd: kept by != and not by ==, as text is no number
    params.optimizer < 3  optimizer: sgd in every run: an error naming it and its kind
"""

from __future__ import annotations

import re
from typing import Any

# a number as the filter writes one (its token), so '0.1', '1e-3' and '1_000' read as
# numbers and 'x', '1.2.3', ' 1' or 'nan' do not
NUMBER = (r"[-+]?(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+"
          r"|(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][-+]?\d(?:_?\d)*)?)")
_NUMBER = re.compile(NUMBER)


def kind(value: Any) -> str:
    if value.__class__ is bool:
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) \
        else type(value).__name__


def aligned(left: Any, right: Any) -> tuple[Any, Any]:
    """``left`` and ``right``, text that reads as a number taken as that number when the
    other side is a number (a param logged as ``'0.1'`` against ``0.2``)."""
    if left.__class__ is str and kind(right) == "a number":
        return _as_number(left), right
    if right.__class__ is str and kind(left) == "a number":
        return left, _as_number(right)
    return left, right


def _as_number(text: str) -> Any:
    from .filters import number

    return number(text) if _NUMBER.fullmatch(text) else text


def comparable(left: Any, right: Any) -> bool:
    left, right = aligned(left, right)
    return kind(left) == kind(right)


def never_ordered(op: str, left: Any, right: Any, pairs: list[tuple[Any, Any]],
                  among: str) -> tuple[str, str]:
    """(problem, hint) for ``left op right`` (operands of filters) whose sides are of
    two kinds in every run that has both: ``pairs``, their values there."""
    from .filters import _Constant, _Field

    side, other, values = (left, right, [a for a, _ in pairs]) if isinstance(left, _Field) \
        else (right, left, [b for _, b in pairs])
    if side is right:  # said from the field's side: 3 > params.x is params.x < 3
        op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
    label = side.field.label if isinstance(side, _Field) else repr(values[0])
    what = kind(values[0])
    if isinstance(other, _Field):
        than = f"{other.field.label} ({kind(pairs[0][1] if side is left else pairs[0][0])})"
    elif isinstance(other, _Constant):
        than = other.raw if other.value.__class__ is bool else f"the number {other.raw}"
    else:
        than = f"the text {other.value!r}"
    problem = f"{label} is {what} in every run{among}, never {op} {than}"
    if what == "a number":
        hint = f"compare it with a number: {label} {op} 0.1"
    elif what == "text":
        hint = f"text has no order against a number: compare it as text, {label} == " \
            f"{str(values[0])!r}"
    elif what == "true/false":
        hint = f"test it with == true or == false: {label} == true"
    else:
        hint = "see its values with 'gitlog show'"
    return problem, hint
