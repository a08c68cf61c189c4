"""Text made safe to show in a terminal table: a commit subject, an experiment name or a
logged message may hold control characters (an escape sequence that recolours or clears
the screen, a carriage return that overwrites the row). Tables and Markdown show them as
``\\x1b``; JSON and CSV carry the text as it is."""

from __future__ import annotations

# line breaks and tabs read as a blank; other C0/C1 controls and DEL as \xNN
_VISIBLE = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7f, 0xa0))}
_VISIBLE.update({ord("\n"): " ", ord("\r"): " ", ord("\t"): " "})
_KEEP_LINES = {**_VISIBLE, ord("\n"): "\n", ord("\t"): "\t", ord("\r"): "\\x0d"}


def visible(text: str) -> str:
    """``text`` with its control characters written out (``isprintable`` first: the
    common text costs one C call)."""
    return text if text.isprintable() else text.translate(_VISIBLE)


def visible_lines(text: str) -> str:
    """``visible`` for text shown as lines (a diff): line breaks and tabs stay."""
    return text.translate(_KEEP_LINES)
