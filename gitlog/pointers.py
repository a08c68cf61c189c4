"""Artifacts as a run records them: the ``artifacts`` entry of ``run.yaml`` and the DVC
pointer files ``<log_dir>/artifacts/NAME.dvc`` in the run commit.

A pointer file is exactly what ``dvc add`` writes (DVC 3: md5, size, nfiles for a
folder, ``hash: md5``) with the artifact's path relative to the pointer, so ``dvc pull``,
``dvc status`` and ``dvc checkout`` in a checkout of the run commit work on it. No dvc
import here: the DVC calls live in ``artifacts``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import NameError_

ARTIFACTS_DIR = "artifacts"
MAX_NAME_LEN = 200
# a letter or digit of any script (\w less _), or _, first; then those, the marks that
# compose letters, blanks and _ . - + = @ %; a blank is not last
_NAME_PART = re.compile(r"^[^\W][\w\u0300-\u036f.\-+=@% ]*(?<! )$")


@dataclass
class Artifact:
    """One artifact of a run: where it was, what it is, and its DVC hash."""

    name: str
    type: str
    path: str                      # relative to the repository root, '/'-separated
    md5: str                       # DVC 3 md5; a folder's ends in ".dir"
    size: int | None = None
    nfiles: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")

    def record(self) -> dict[str, Any]:
        """The ``run.yaml`` entry (and the journal record, which adds ``name``)."""
        out: dict[str, Any] = {"type": self.type, "path": self.path, "md5": self.md5,
                               "size": self.size}
        if self.nfiles is not None:
            out["nfiles"] = self.nfiles
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_record(cls, name: str, rec: dict[str, Any]) -> Artifact:
        return cls(name=name, type=str(rec.get("type") or "artifact"), path=str(rec["path"]),
                   md5=str(rec["md5"]), size=rec.get("size"), nfiles=rec.get("nfiles"),
                   meta=dict(rec.get("meta") or {}))


def check_name(name: object) -> str:
    """Return ``name`` if it can name ``artifacts/NAME.dvc``, else raise NameError_.
    Letters of any script and blanks are fine (as in the file names DVC tracks)."""
    if not isinstance(name, str) or not name:
        raise NameError_("artifact", str(name), "empty name", hint="pass name='model'")
    if len(name) > MAX_NAME_LEN:
        raise NameError_("artifact", name, f"{len(name)} characters; at most {MAX_NAME_LEN}")
    for part in name.split("/"):
        if part in ("", ".", "..") or not _NAME_PART.match(part):
            raise NameError_("artifact", name, "use letters, digits, blanks and _ . - + = @ "
                             "%, starting with a letter, digit or _, with '/' between groups",
                             hint="e.g. name='model' or 'data/train'")
    return name


def default_name(path: str, shown: str) -> str:
    """The name of an artifact logged without one: its file name (``path``'s last part,
    NFC-normalised, as macOS may give 'ö' decomposed); a file name that cannot be one is
    a NameError_ whose hint passes ``name=`` (``shown``: the path as the user gave it)."""
    import unicodedata

    base = unicodedata.normalize("NFC", path.rsplit("/", 1)[-1])
    try:
        return check_name(base)
    except NameError_ as err:
        safe = re.sub(r"-*\.-*", ".", re.sub(r"[^\w.\-+=@%]+", "-", base)).strip("-.") \
            or "model"
        safe = safe if _NAME_PART.match(safe) else f"_{safe}"
        raise NameError_("artifact", base, f"{str(err).split(': ', 1)[1]} (the name comes "
                         "from the file name)",
                         hint=f"pass a name: log_artifact({shown!r}, name={safe!r})") from None


def pointer_text(artifact: Artifact, log_dir: str) -> bytes:
    """The ``.dvc`` file of ``artifact`` as it sits at ``<log_dir>/artifacts/NAME.dvc``."""
    from .yamlwrite import yaml_dump

    depth = len(log_dir.split("/")) + 1 + artifact.name.count("/")
    out: dict[str, Any] = {"md5": artifact.md5, "size": artifact.size}
    if artifact.nfiles is not None:
        out["nfiles"] = artifact.nfiles
    out["hash"] = "md5"
    out["path"] = "../" * depth + artifact.path
    out["type"] = artifact.type
    if artifact.meta:
        out["meta"] = artifact.meta
    return yaml_dump({"outs": [out]}, sort_keys=False)


def latest_records(records: list[dict[str, Any]]) -> dict[str, Artifact]:
    """Journal records -> {name: Artifact}; a name logged again keeps its last record."""
    out: dict[str, Artifact] = {}
    for rec in records:
        try:
            out[rec["name"]] = Artifact.from_record(rec["name"], rec)
        except (KeyError, TypeError):
            continue  # a torn or foreign record: skip it, keep the rest
    return out


def artifact_files(records: list[dict[str, Any]], log_dir: str) -> tuple[
        dict[str, dict[str, Any]], dict[str, bytes]]:
    """(run.yaml ``artifacts`` mapping, {``artifacts/NAME.dvc``: pointer}) of a journal."""
    arts = latest_records(records)
    entries = {name: arts[name].record() for name in sorted(arts)}
    files = {f"{ARTIFACTS_DIR}/{name}.dvc": pointer_text(arts[name], log_dir)
             for name in sorted(arts)}
    return entries, files


def from_run(run: dict[str, Any]) -> list[Artifact]:
    """The artifacts a ``run.yaml`` mapping lists, sorted by name."""
    entries = run.get("artifacts") or {}
    if not isinstance(entries, dict):
        return []
    out = []
    for name in sorted(entries):
        try:
            out.append(Artifact.from_record(str(name), entries[name]))
        except (KeyError, TypeError):
            continue
    return out
