"""The estimator contract shared by every `groundup.classic` model, in scikit-learn's conventions.

- `__init__` stores its arguments unchanged (validation happens in `fit`), so `get_params`/`set_params`
  and `clone` can rebuild an estimator from its parameters alone.
- `fit` returns `self`; what it learns lives in attributes ending in `_`.
- Mixins add `score` (accuracy for classifiers, R^2 for regressors) and `fit_transform`.

scikit-learn's meta-estimators (`Pipeline`, `cross_val_score`, `GridSearchCV`) and `check_estimator`
need nothing else from us except the tags protocol (`__sklearn_tags__`), see `sklearn_tags`.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np

from groundup.errors import GroundupError


class NotFittedError(GroundupError, ValueError, AttributeError):
    """A method that needs a fitted model was called before `fit` (scikit-learn raises the same pair)."""


class BaseEstimator:
    """Parameters introspected from `__init__`; tags that tell scikit-learn what kind of model this is."""

    @classmethod
    def param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(
            p.name for p in signature.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD
        )

    def get_params(self, deep: bool = True) -> dict:
        params = {}
        for name in self.param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update({f"{name}__{k}": v for k, v in value.get_params().items()})
            params[name] = value
        return params

    def set_params(self, **params) -> BaseEstimator:
        valid = self.param_names()
        nested: dict[str, dict] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; valid parameters: {valid}"
                )
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for name, value in self.get_params(deep=False).items():
            default = defaults.get(name)
            same = value is default or (
                type(value) is type(default) and not isinstance(value, np.ndarray) and value == default
            )
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_features_in_")

    def tag_overrides(self) -> dict:
        """Differences from the default tags (see `sklearn_tags`); mixins and models extend this."""
        return {}

    def __sklearn_tags__(self):
        return sklearn_tags(self.tag_overrides())


class ClassifierMixin:
    def tag_overrides(self) -> dict:
        return {**super().tag_overrides(), "estimator_type": "classifier", "target_required": True}

    def score(self, X, y) -> float:
        """Mean accuracy of `predict(X)` against `y`."""
        from groundup.classic.metrics import accuracy_score

        return accuracy_score(y, self.predict(X))


class RegressorMixin:
    def tag_overrides(self) -> dict:
        return {**super().tag_overrides(), "estimator_type": "regressor", "target_required": True}

    def score(self, X, y) -> float:
        """Coefficient of determination R^2 of `predict(X)` against `y`."""
        from groundup.classic.metrics import r2_score

        return r2_score(y, self.predict(X))


class TransformerMixin:
    def tag_overrides(self) -> dict:
        return {**super().tag_overrides(), "transformer": True}

    def fit_transform(self, X, y=None):
        return self.fit(X, y).transform(X)


class ClusterMixin:
    def tag_overrides(self) -> dict:
        return {**super().tag_overrides(), "estimator_type": "clusterer"}

    def fit_predict(self, X, y=None):
        return self.fit(X, y).labels_


def sklearn_tags(overrides: dict):
    """Build scikit-learn's `Tags` object from our plain-dict overrides.

    Only scikit-learn calls `__sklearn_tags__`, so scikit-learn is already imported when this runs;
    the import below borrows its tag dataclasses (plain records), never any of its algorithms.
    """
    from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags, TransformerTags

    kind = overrides.get("estimator_type")
    return Tags(
        estimator_type=kind,
        target_tags=TargetTags(required=overrides.get("target_required", False)),
        transformer_tags=TransformerTags() if overrides.get("transformer") else None,
        classifier_tags=ClassifierTags(poor_score=overrides.get("poor_score", False))
        if kind == "classifier"
        else None,
        regressor_tags=RegressorTags(poor_score=overrides.get("poor_score", False))
        if kind == "regressor"
        else None,
        input_tags=InputTags(positive_only=overrides.get("positive_only", False)),
        non_deterministic=overrides.get("non_deterministic", False),
    )


def clone(estimator, *, safe: bool = True):
    """A new unfitted estimator with the same parameters (estimator-valued parameters cloned too)."""
    if isinstance(estimator, list | tuple | set | frozenset):
        return type(estimator)(clone(e, safe=safe) for e in estimator)
    if not hasattr(estimator, "get_params") or isinstance(estimator, type):
        if not safe:
            return copy.deepcopy(estimator)
        raise TypeError(f"cannot clone {estimator!r}: it has no get_params method")
    params = {k: clone(v, safe=False) for k, v in estimator.get_params(deep=False).items()}
    return type(estimator)(**params)


def check_is_fitted(estimator, attribute: str = "n_features_in_") -> None:
    """Raise NotFittedError naming the estimator when `fit` has not run yet."""
    if not hasattr(estimator, attribute):
        name = type(estimator).__name__
        raise NotFittedError(
            f"This {name} instance is not fitted yet; call fit(X, y) before using this method"
        )
