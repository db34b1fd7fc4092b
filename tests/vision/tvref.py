"""torchvision (and pytorch-grad-cam) as test references, without their C++ extension.

PyPI's torchvision 0.28.0 wheel, the release paired with torch 2.13, is a CUDA build: beside the CPU
torch its `_C.so` cannot load (it links libtorch_cuda), torchvision then skips every op registration
except two unconditional fake-kernel registrations for `torchvision::nms` / `qnms`, and those fail with
"operator torchvision::nms does not exist". The models and `transforms.v2` are pure Python and never
need the extension. So, for tests only:

1. the packages live in a folder outside site-packages (`make setup` installs them with
   `pip install --no-deps --target .venv/torchvision-ref torchvision==0.28.0 grad-cam ttach
   opencv-python-headless`), so `transformers`, which imports any torchvision it can see, never meets
   the broken import;
2. `torchvision()` puts that folder on sys.path, declares the two op schemas (`torch.library`,
   no kernels) so the fake registrations succeed, and imports torchvision. Detection ops (nms,
   roi_align) stay unavailable; nothing here uses them.

A torchvision that imports normally (a CPU build) is used as it is. Tests skip with the reason when
none is found.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest
import torch

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library = None  # the torch.library fragment must outlive the import


def reference_dir() -> Path:
    """Where `make setup` puts the reference packages: $GROUNDUP_TORCHVISION or <venv>/torchvision-ref."""
    return Path(os.environ.get("GROUNDUP_TORCHVISION") or Path(sys.prefix) / "torchvision-ref")


def _declare_ops() -> None:
    global _library
    _library = torch.library.Library("torchvision", "FRAGMENT")
    for name, schema in _SCHEMAS.items():
        try:
            torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
        except RuntimeError:
            _library.define(schema)


def _import():
    """Import torchvision as it is; if it stops at the missing op schemas, declare them and retry."""
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"]
    folder = reference_dir()
    if folder.is_dir() and str(folder) not in sys.path:
        sys.path.append(str(folder))
    try:
        return importlib.import_module("torchvision")
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    _declare_ops()
    return importlib.import_module("torchvision")


def torchvision():
    """The torchvision module, or a pytest skip saying why there is none."""
    try:
        return _import()
    except ImportError as exc:
        pytest.skip(f"torchvision not installed ({exc}); `make setup` installs it into {reference_dir()}")


def pytorch_grad_cam():
    """The pytorch-grad-cam package (needs torchvision, ttach and cv2), or a skip."""
    torchvision()
    try:
        return importlib.import_module("pytorch_grad_cam")
    except ImportError as exc:
        pytest.skip(f"grad-cam not importable ({exc}); `make setup` installs it into {reference_dir()}")
