"""Vision: augmentation, Grad-CAM, receptive fields, the CNN zoo and the training laboratory.

The models themselves live in `groundup.models` (`cnn.py`, `vit.py`); this package trains, inspects and
compares them. Names load from their submodules on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "data": ["as_rgb32", "digits_splits", "mnist_splits", "select_classes"],
    },
)
