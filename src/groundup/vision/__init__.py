"""Vision: augmentation, Grad-CAM, receptive fields, the CNN zoo and the training laboratory.

The models themselves live in `groundup.models` (`cnn.py`, `vit.py`); this package trains, inspects and
compares them. Names load from their submodules on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "augment": ["Compose", "apply_batch", "cutmix", "eval_pipeline", "mixup", "train_pipeline"],
        "data": ["as_rgb32", "digits_splits", "mnist_splits", "select_classes"],
        "gradcam": ["grad_cam", "find_layer"],
        "lab": ["LabConfig", "LabNet", "run_lab"],
        "losses": ["focal_loss", "soft_cross_entropy"],
        "receptive": ["conv_cost", "receptive_field"],
        "stats": ["holm", "mean_ci", "permutation_test", "welch_t_test"],
        "transfer": ["run_transfer"],
        "zoo": ["ZOO_MODELS", "run_zoo"],
    },
)
