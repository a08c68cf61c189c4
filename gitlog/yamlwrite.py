"""The YAML gitlog writes (params.yaml, run.yaml, data.yaml, model.yaml, artifact
pointers): read back the same by YAML 1.2 readers (ruamel, DVC) and YAML 1.1 ones
(PyYAML, OmegaConf, Hydra).

Where the two differ, the text is written so that both agree: strings YAML 1.1 takes for
booleans (``yes``, ``off``) or base-60 numbers (``10:30:00``, ``1:20``) are quoted, and a
float in exponent form gets a ``.`` (``1.0e-05``: YAML 1.1 reads ``1e-05`` as a string).
"""

from __future__ import annotations

import io
import re
from typing import Any

_YAML11_BOOLS = frozenset({"yes", "no", "on", "off", "y", "n"})
# YAML 1.1's base-60 ints and floats (``190:20:30.15``), which YAML 1.2 reads as strings.
_YAML11_SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")


def _represent_str(representer: Any, value: str) -> Any:
    if value.lower() in _YAML11_BOOLS or _YAML11_SEXAGESIMAL.fullmatch(value):
        return representer.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return representer.represent_str(value)


_REPRESENTER: Any = None


def _representer() -> Any:
    """ruamel's safe representer with ``_represent_str`` and floats YAML 1.1 reads: a
    subclass, so that a script's own use of ruamel in this process is left as it was."""
    global _REPRESENTER
    if _REPRESENTER is None:
        from ruamel.yaml.representer import SafeRepresenter

        class Representer(SafeRepresenter):
            def represent_float(self, value: float) -> Any:
                node = super().represent_float(value)
                if "e" in node.value and "." not in node.value:  # 1e-05 -> 1.0e-05
                    node.value = node.value.replace("e", ".0e", 1)
                return node

        Representer.add_representer(str, _represent_str)
        Representer.add_representer(float, Representer.represent_float)
        _REPRESENTER = Representer
    return _REPRESENTER


def yaml_dump(obj: Any, sort_keys: bool = True) -> bytes:
    """``obj`` as block-style YAML; ``sort_keys=False`` keeps each mapping's order (a
    ``.dvc`` pointer's keys in the order ``dvc add`` writes them)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.Representer = _representer()
    yaml.default_flow_style = False
    yaml.representer.sort_base_mapping_type_on_output = sort_keys
    yaml.allow_unicode = True
    buf = io.StringIO()
    yaml.dump(obj, buf)
    return buf.getvalue().encode("utf-8")
