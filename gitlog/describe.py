"""Summaries of models and data for a run's ``model.yaml`` and ``data.yaml``.

Everything returned is plain YAML-safe data (dict, list, str, int, float, bool, None).
The training process imports this module, so nothing heavy is imported at load time:
scikit-learn, torch and numpy are used only when the object passed comes from them, and
dvc_data only when a path is hashed. Apart from a missing path, nothing here raises: an
object that cannot be described is reported by its type name.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Iterable
from itertools import takewhile
from typing import Any

from gitlog.errors import GitlogError
from gitlog.values import module_of, plain

_MAX_NAMES = 100
# DvcIgnoreFilter's defaults: these never become part of a directory that `dvc add` hashes.
_DVC_IGNORED_DIRS = frozenset({".git", ".hg", ".dvc"})
_DVC_IGNORED_FILES = frozenset({".git"})
_TORCH_SIZE_ATTRS = ("in_features", "out_features", "in_channels", "out_channels",
                     "num_embeddings", "embedding_dim")
_TORCH_ACTIVATION_MODULE = "torch.nn.modules.activation"


def describe_model(model: Any) -> dict[str, Any]:
    """Summarise a model as plain data for ``model.yaml``.

    A dict is copied with its values made plain. A scikit-learn estimator gives ``type``,
    ``framework``, ``params`` and ``fitted``; once fitted also ``inputs``, ``classes``,
    ``parameters`` with ``parameters_kind`` (``"weights"`` or tree ``"nodes"``), and for
    an MLP ``layers`` and ``activations``; a Pipeline adds ``steps``. A torch module gives
    ``type``, ``framework``, ``layers``, ``activations``, ``parameters`` and
    ``trainable_parameters`` (of the model inside a torch.compile or DataParallel wrapper,
    named in ``wrappers``). Anything else gives ``{"type": "<module>.<qualname>"}``.

        >>> describe_model({"arch": "resnet18", "depth": 18})
        {'arch': 'resnet18', 'depth': 18}
    """
    try:
        if isinstance(model, dict):
            return dict(plain(model))
        if module_of(model).startswith("sklearn") and hasattr(model, "get_params"):
            return _describe_sklearn(model)
        torch = sys.modules.get("torch")
        nn = getattr(torch, "nn", None)
        if nn is not None and isinstance(model, nn.Module):
            return _describe_torch(model)
    except Exception:  # a summary must never break the run it describes
        pass
    return {"type": _type_name(model)}


def describe_data(obj: Any = None) -> dict[str, Any]:
    """Summarise a data set, or a file or directory of data, as plain data for ``data.yaml``.

    A path (str or ``os.PathLike``) gives ``path``, ``md5`` and ``size`` exactly as
    ``dvc add`` records them in the ``.dvc`` file; a directory also gives ``nfiles`` and
    its ``md5`` ends in ``.dir``. Hashing streams the files and needs no DVC repo or
    cache. A pandas DataFrame gives ``samples``, ``features``, ``columns``, ``dtypes``;
    an array (numpy or alike) ``samples``, ``features``, ``shape``, ``dtype``; a
    scikit-learn Bunch ``samples``, ``features``, ``feature_names``, ``classes``; a torch
    Dataset or DataLoader ``type``, ``samples`` (and a loader's ``batch_size``,
    ``batches``); another dict a plain copy; None ``{}``.

    Raises GitlogError when a path does not exist.

        >>> describe_data("data/train.csv")  # doctest: +SKIP
        {'path': 'data/train.csv', 'md5': '3f0f...', 'size': 48213}
    """
    if obj is None:
        return {}
    if isinstance(obj, (str, os.PathLike)):
        return _describe_path(obj)
    try:
        module = module_of(obj)
        if module.startswith("pandas") and hasattr(obj, "columns") and hasattr(obj, "dtypes"):
            return _describe_frame(obj)
        if isinstance(obj, dict):
            if "data" in obj and "target" in obj:
                return _describe_bunch(obj)
            return dict(plain(obj))
        if isinstance(getattr(obj, "shape", None), tuple) and hasattr(obj, "dtype"):
            return _describe_array(obj)
        tud = sys.modules.get("torch.utils.data")
        if tud is not None and isinstance(obj, (tud.Dataset, tud.DataLoader)):
            return _describe_torch_data(obj, tud)
    except Exception:  # a summary must never break the run it describes
        pass
    return {"type": _type_name(obj)}


def _describe_torch_data(obj: Any, tud: Any) -> dict[str, Any]:
    """A torch Dataset: ``type``, ``samples`` (its length), for a TensorDataset also
    ``features``, ``shape`` and ``dtype`` of its first tensor; a DataLoader: its
    dataset's, plus ``batch_size`` and ``batches``."""
    loader = obj if isinstance(obj, tud.DataLoader) else None
    data = obj.dataset if loader is not None else obj
    tensors = getattr(data, "tensors", None)
    out: dict[str, Any] = {"type": type(data).__name__}
    if isinstance(tensors, tuple) and tensors and hasattr(tensors[0], "shape"):
        out.update(_describe_array(tensors[0]))
    else:
        with contextlib.suppress(Exception):  # an IterableDataset has no length
            out["samples"] = len(data)
    if loader is not None:
        out["batch_size"] = loader.batch_size
        with contextlib.suppress(Exception):
            out["batches"] = len(loader)
    return out


def _type_name(obj: Any) -> str:
    return f"{module_of(obj)}.{type(obj).__qualname__}"


def _public_type_name(obj: Any) -> str:
    """``sklearn.linear_model._logistic.X`` -> ``sklearn.linear_model.X`` (documented)."""
    parts = takewhile(lambda part: not part.startswith("_"), module_of(obj).split("."))
    return ".".join([*parts, type(obj).__qualname__])


def _safe_getattr(obj: Any, name: str) -> Any:
    # scikit-learn properties raise NotFittedError, ValueError, ... not just AttributeError
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _describe_sklearn(model: Any) -> dict[str, Any]:
    try:
        params = plain(model.get_params(deep=False))
    except Exception:
        params = {}
    out: dict[str, Any] = {"type": _public_type_name(model), "framework": "scikit-learn",
                           "params": params, "fitted": _sklearn_fitted(model)}
    if out["fitted"]:
        out.update(_sklearn_learned(model))
    steps = getattr(model, "steps", None)
    if module_of(model) == "sklearn.pipeline" and isinstance(steps, list):
        out["steps"] = [{"name": str(name), **(  # a step may be None or "passthrough"
            describe_model(step) if step is not None and not isinstance(step, str)
            else {"type": "passthrough"})} for name, step in steps]
    return out


def _sklearn_fitted(model: Any) -> bool:
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except Exception:  # NotFittedError, or TypeError for an object sklearn cannot judge
        return False
    return True


def _sklearn_learned(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    inputs = _safe_getattr(model, "n_features_in_")
    if inputs is not None:
        out["inputs"] = int(inputs)
    classes = _safe_getattr(model, "classes_")
    if isinstance(classes, list) and classes and hasattr(classes[0], "__len__"):
        out["classes"] = [len(c) for c in classes]  # one set of classes per output
    elif classes is not None:
        out["classes"] = len(classes)

    coefs = _safe_getattr(model, "coefs_")
    coef = _safe_getattr(model, "coef_")
    if isinstance(coefs, list) and coefs:  # MLP: one weight matrix per layer
        intercepts = _safe_getattr(model, "intercepts_") or []
        out["parameters"] = sum(_prod(w.shape) for w in [*coefs, *intercepts])
        out["parameters_kind"] = "weights"
        out["layers"] = [int(coefs[0].shape[0]), *(int(w.shape[1]) for w in coefs)]
        out["activations"] = [str(model.activation), str(model.out_activation_)]
    elif coef is not None:  # linear model
        count = _prod(coef.shape)  # not .size: that is nnz for a sparse coef_
        intercept = _safe_getattr(model, "intercept_")
        # with fit_intercept=False, intercept_ is a constant 0, not something learned
        if intercept is not None and getattr(model, "fit_intercept", True):
            count += _prod(getattr(intercept, "shape", ()))
        out["parameters"] = count
        out["parameters_kind"] = "weights"
    else:
        nodes = _tree_nodes(model)
        if nodes:
            out["parameters"] = nodes
            out["parameters_kind"] = "nodes"
    return out


def _prod(dims: Iterable[Any]) -> int:
    count = 1
    for dim in dims:
        count *= int(dim)
    return count


def _tree_nodes(model: Any) -> int | None:
    """Total node count of a tree, or of an ensemble of trees (forests, boosting)."""
    tree = _safe_getattr(model, "tree_")
    if tree is not None:
        return int(tree.node_count)
    estimators = _safe_getattr(model, "estimators_")
    if estimators is None:
        return None
    total = 0
    # .flat: gradient boosting keeps its trees in a 2-D numpy array
    for estimator in getattr(estimators, "flat", estimators):
        tree = _safe_getattr(estimator, "tree_")
        if tree is None:
            return None
        total += int(tree.node_count)
    return total


# wrappers that hold the model itself: torch.compile's, (Distributed)DataParallel's
_TORCH_WRAPPERS = {"OptimizedModule": "_orig_mod", "DataParallel": "module",
                   "DistributedDataParallel": "module"}


def _unwrapped(model: Any) -> tuple[Any, list[str]]:
    """The model a torch.compile or DataParallel wrapper holds, and the wrappers' names
    (outermost first): its layers are named as the model's own ('0', not
    '_orig_mod.0' or 'module.0'), so a compiled run compares with a plain one."""
    wrappers: list[str] = []
    while len(wrappers) < 5:
        attr = _TORCH_WRAPPERS.get(type(model).__name__)
        inner = getattr(model, attr, None) if attr else None
        if inner is None or inner is model:
            break
        wrappers.append(type(model).__name__)
        model = inner
    return model, wrappers


def _describe_torch(model: Any) -> dict[str, Any]:
    model, wrappers = _unwrapped(model)
    layers = []
    activations = set()
    for name, module in model.named_modules():
        if next(iter(module.children()), None) is not None:
            continue  # only leaves: containers would count their children twice
        cls = type(module)
        layer: dict[str, Any] = {"name": name or cls.__name__, "type": cls.__name__,
                                 "parameters": _numel(module.parameters())}
        for attr in _TORCH_SIZE_ATTRS:
            value = getattr(module, attr, None)
            if type(value) is int:
                layer[attr] = value
        layers.append(layer)
        if cls.__name__ != "MultiheadAttention" and any(
                c.__module__ == _TORCH_ACTIVATION_MODULE for c in cls.__mro__):
            activations.add(cls.__name__)
    params = list(model.parameters())
    out = {"type": type(model).__name__, "framework": "pytorch", "layers": layers,
           "activations": sorted(activations), "parameters": _numel(params),
           "trainable_parameters": _numel(p for p in params if p.requires_grad)}
    if wrappers:
        out["wrappers"] = wrappers
    return out


def _numel(params: Iterable[Any]) -> int:
    total = 0
    for param in params:
        with contextlib.suppress(Exception):  # lazy modules: no size until first forward
            total += int(param.numel())
    return total


def _describe_path(path: str | os.PathLike[Any]) -> dict[str, Any]:
    shown = os.fsdecode(os.fspath(path))
    if not os.path.exists(shown):
        raise GitlogError(f"data path not found: {shown}",
                          hint="check the path (relative paths start at the current "
                               f"directory, {os.getcwd()})")
    out: dict[str, Any] = {"path": shown}
    try:
        out.update(_dvc_hash(os.path.abspath(shown)))
    except Exception as exc:  # unreadable file, ...: record why instead of failing
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def _dvc_hash(path: str) -> dict[str, Any]:
    """The md5, size (and for a directory nfiles) that ``dvc add`` records (DVC 3)."""
    hashed = hash_path(path)
    hashed.release()
    return hashed.summary


class HashedPath:
    """A file or directory hashed as ``dvc add`` hashes it (DVC 3 md5).

    ``summary`` is what the ``.dvc`` file records (md5, size, and for a directory
    nfiles); ``files`` lists (path, md5) of every file; ``tree`` is dvc_data's Tree of a
    directory (its ``.dir`` listing lives in dvc_data's in-memory filesystem until
    ``release()``), None for a file.
    """

    def __init__(self, summary: dict[str, Any], files: list[tuple[str, str]],
                 tree: Any = None) -> None:
        self.summary = summary
        self.files = files
        self.tree = tree

    def release(self) -> None:
        if self.tree is not None:
            with contextlib.suppress(Exception):  # digest() leaves it in the global memfs
                self.tree.fs.rm_file(self.tree.path)


def hash_path(path: str, ignore: Any = None) -> HashedPath:
    """Hash ``path`` with dvc_data's own code (1 MiB chunks, no state database, no cache).

    Files are streamed, never read whole. ``ignore``: the repository's ``.dvcignore``
    filter, ``(root, dirs, files) -> (dirs, files)``; a folder's files it leaves out are
    not part of the folder, as ``dvc add`` hashes it.
    """
    from dvc_data.hashfile.hash import hash_file
    from dvc_objects.fs.local import localfs

    if not os.path.isdir(path):
        meta, hash_info = hash_file(path, localfs, "md5", info=localfs.info(path))
        return HashedPath({"md5": hash_info.value, "size": meta.size},
                          [(path, str(hash_info.value))])

    from dvc_data.hashfile.tree import Tree

    tree = Tree()
    size = 0
    files = []
    for root, dirs, names in os.walk(path):
        if ignore is not None:
            dirs[:], names = ignore(root, dirs, names)
        dirs[:] = [d for d in dirs if d not in _DVC_IGNORED_DIRS]
        rel = os.path.relpath(root, path)
        prefix = () if rel == os.curdir else tuple(rel.split(os.sep))
        for name in names:
            if name in _DVC_IGNORED_FILES:
                continue
            file_path = os.path.join(root, name)
            meta, hash_info = hash_file(file_path, localfs, "md5", info=localfs.info(file_path))
            tree.add((*prefix, name), meta, hash_info)
            files.append((file_path, str(hash_info.value)))
            size += meta.size or 0
    tree.digest()  # DVC's own .dir hash: md5 of the sorted JSON listing, plus ".dir"
    return HashedPath({"md5": tree.hash_info.value, "size": size, "nfiles": len(tree)},
                      files, tree)


def _describe_frame(frame: Any) -> dict[str, Any]:
    rows, columns = frame.shape
    dtypes = dict(Counter(str(dtype) for dtype in frame.dtypes))
    return {"samples": int(rows), "features": int(columns),
            "columns": plain(list(frame.columns[:_MAX_NAMES])), "dtypes": dtypes}


def _describe_array(array: Any) -> dict[str, Any]:
    shape = [int(d) for d in getattr(array, "shape", ())]
    out: dict[str, Any] = {"samples": shape[0], "features": _prod(shape[1:])} if shape else {}
    if hasattr(array, "dtype"):
        out.update(shape=shape, dtype=str(array.dtype))
    return out


def _describe_bunch(bunch: dict[str, Any]) -> dict[str, Any]:
    out = _describe_array(bunch["data"])
    out.pop("shape", None)
    out.pop("dtype", None)
    names = bunch.get("feature_names")
    if names is not None and len(names):
        out["feature_names"] = plain(list(names)[:_MAX_NAMES])
    target_names = bunch.get("target_names")
    if target_names is not None:
        out["classes"] = len(target_names)
    return out


ML_PACKAGES = {"numpy": "numpy", "pandas": "pandas", "sklearn": "scikit-learn",
               "torch": "torch", "tensorflow": "tensorflow", "jax": "jax",
               "xgboost": "xgboost", "lightgbm": "lightgbm", "transformers": "transformers",
               "scipy": "scipy"}


def ml_packages() -> dict[str, str]:
    """The versions of the ML libraries the process imported (by distribution name)."""
    found = {}
    for module, dist in ML_PACKAGES.items():
        mod = sys.modules.get(module)
        version = getattr(mod, "__version__", None) if mod else None
        if isinstance(version, str):
            found[dist] = version
    return found


def with_fields(descriptor: dict[str, Any], extra: dict[str, Any],
                **named: Any) -> dict[str, Any]:
    """``descriptor`` with the fields a user gave (``named`` ones only when not None),
    as plain data."""
    for key, value in named.items():
        if value is not None:
            descriptor[key] = plain(value)
    descriptor.update({k: plain(v) for k, v in extra.items()})
    return descriptor
