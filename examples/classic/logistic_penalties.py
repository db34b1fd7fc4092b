"""Exercise: logistic regression with L1, L2 and elastic-net penalties on breast cancer.

The penalty is C-weighted against the log loss: small C means strong regularization. L2 shrinks every
weight smoothly; L1 sets weights exactly to zero (feature selection) because its proximal step is a
soft threshold; elastic net mixes the two, keeping groups of correlated features together.
We sweep C and report the number of non-zero weights and cross-validated accuracy, ours and
scikit-learn's (saga solver) side by side.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from groundup.classic import LogisticRegression, StandardScaler
from groundup.data import load_sklearn


def main() -> dict:
    X, y = load_sklearn("breast_cancer")
    X = StandardScaler().fit_transform(X)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    results = {}
    for penalty, ratio in (("l2", 0.0), ("l1", 1.0), ("elasticnet", 0.5)):
        for C in (0.01, 0.1, 1.0):
            ours = LogisticRegression(penalty=penalty, C=C, l1_ratio=0.5, max_iter=2000)
            ref = SkLogisticRegression(C=C, l1_ratio=ratio, solver="saga", max_iter=5000)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                acc = (
                    cross_val_score(ours, X, y, cv=folds).mean(),
                    cross_val_score(ref, X, y, cv=folds).mean(),
                )
                nonzero = (
                    int(np.sum(np.abs(ours.fit(X, y).coef_) > 1e-8)),
                    int(np.sum(np.abs(ref.fit(X, y).coef_) > 1e-8)),
                )
            results[(penalty, C)] = (acc, nonzero)
            print(
                f"{penalty:<10} C={C:<5} accuracy ours {acc[0]:.4f} sklearn {acc[1]:.4f}   non-zero weights ours {nonzero[0]:2d} sklearn {nonzero[1]:2d} of {X.shape[1]}"
            )
    return results


if __name__ == "__main__":
    main()
