"""Classes named in a config by their path, "package.module.Class", as LightningCLI names them.

Building from such a config imports the named module, which runs its top-level code as every
import does: name only modules you trust. The class is used only if it is a subclass of what
the entry expects (`torch.nn.Module` for a backbone, `lzn.modalities.Modality` for a modality);
weight files are tensors only and never run code.
"""

from __future__ import annotations

import importlib


def import_class(path: object, base: type, *, what: str, base_name: str) -> type:
    """The class `path` names, if it is a subclass of `base`; else a ValueError naming `what`
    the path was for and `base_name` (how users know `base`)."""
    if not isinstance(path, str):
        raise ValueError(f"a {what} class path is a string 'package.module.Class', got {path!r}")
    module_name, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(f"{what} class {path!r} cannot be imported") from None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"{what} {path!r} is not a {base_name} class")
    return cls


def path_of(cls: type) -> str:
    """The path `import_class` finds `cls` by; a ValueError if another program could not import
    it by that path (a class made in a function or in the running script)."""
    path = f"{cls.__module__}.{cls.__qualname__}"
    if cls.__module__ != "__main__":  # the running script is another module in another program
        try:
            if import_class(path, object, what="", base_name="") is cls:
                return path
        except ValueError:
            pass
    raise ValueError(
        f"{cls.__qualname__} cannot be imported by its path {path!r}: define it at the top "
        "level of an importable module (not in a function or the running script)"
    )
