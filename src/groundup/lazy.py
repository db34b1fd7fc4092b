"""Lazy package exports (PEP 562), so that importing a package costs nothing until a name is used.

`groundup --help` imports every module of `groundup.commands`, and `groundup.commands.quant_llm` imports
`groundup.quant.llm.methods`, which first imports the package `groundup.quant`. If that package's `__init__` imported its submodules eagerly, listing the
commands would import torch, NumPy, SciPy and the rest (about 2 s). Instead a package names the
submodule that defines each public name:

    __all__ = lazy_exports(__name__, {"sampling": ["SamplingParams", "sample"], "decode": [...]})

and `from groundup.generate import SamplingParams` imports `groundup.generate.sampling` on first use.
`from package import submodule` keeps working through Python's own fallback to importing it.
"""

from __future__ import annotations

import importlib
import sys
import types


class LazyPackage(types.ModuleType):
    """A package module whose exported names are imported from their submodules on first access."""

    _lazy_where: dict[str, str]  # exported name -> the submodule defining it

    def __getattr__(self, name: str):
        module_name = self._lazy_where.get(name)
        if module_name is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{self.__name__}.{module_name}"), name)
        setattr(self, name, value)  # later lookups skip __getattr__
        return value

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | self._lazy_where.keys())

    def __setattr__(self, name: str, value) -> None:
        # Importing a submodule binds it on its package (`groundup.eval.perplexity = <module>`). Where a
        # submodule shares its name with the function it exports (eval/perplexity.py's `perplexity`),
        # bind the function, exactly as an eager `from .perplexity import perplexity` would.
        submodule = f"{self.__name__}.{name}"
        if isinstance(value, types.ModuleType) and value.__name__ == submodule and name in self._lazy_where:
            value = getattr(value, name)
        super().__setattr__(name, value)


def lazy_exports(package: str, exports: dict[str, list[str]]) -> list[str]:
    """Make `package` lazy; `exports` maps each submodule to the public names it defines. Returns the
    sorted exported names, for the package's `__all__`."""
    module = sys.modules[package]
    module.__dict__["_lazy_where"] = {name: sub for sub, names in exports.items() for name in names}
    module.__class__ = LazyPackage
    return sorted(module._lazy_where)
