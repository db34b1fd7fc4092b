"""Exercise: PCA from the eigendecomposition of the covariance matrix, step by step.

1. Center the data: Xc = X - mean(X).
2. Covariance S = Xc^T Xc / (n - 1), a symmetric p x p matrix.
3. Eigendecomposition S = V diag(lambda) V^T (numpy.linalg.eigh: ascending eigenvalues, orthonormal V).
4. Sort descending: the first columns of V are the directions of largest variance; lambda_k is the
   variance along v_k, so lambda_k / sum(lambda) is the explained-variance ratio.
5. Project: Z = Xc V_k.
We then check the components against scikit-learn's PCA (SVD-based) up to sign.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA as SkPCA

from groundup.classic import PCA
from groundup.data import load_sklearn


def pca_by_hand(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(components (k, p), explained variance ratio (k,)) from eigh of the covariance."""
    Xc = X - X.mean(axis=0)
    S = Xc.T @ Xc / (len(X) - 1)  # (p, p)
    values, vectors = np.linalg.eigh(S)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    return vectors[:, :k].T, values[:k] / values.sum()


def main() -> dict:
    results = {}
    for name in ("iris", "wine", "breast_cancer", "digits"):
        X, _ = load_sklearn(name)
        components, ratio = pca_by_hand(X, 3)
        ref = SkPCA(3).fit(X)
        signs = np.sign(np.sum(components * ref.components_, axis=1))
        error = float(np.max(np.abs(components - signs[:, None] * ref.components_)))
        ours = PCA(3, svd_solver="eigh").fit(X)
        results[name] = error
        print(
            f"{name:<14} explained variance ratio {np.round(ratio, 4)}  max |component - sklearn| {error:.2e}  "
            f"groundup.classic.PCA agrees: {np.allclose(ours.explained_variance_ratio_, ratio)}"
        )
    return results


if __name__ == "__main__":
    main()
