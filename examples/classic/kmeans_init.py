"""Exercise: k-means initialization -- random points vs k-means++ -- over many seeds.

Lloyd's algorithm only finds a local minimum of the inertia, so where it starts matters. Random
initialization can put two centers in one true cluster and none in another; k-means++ spreads the
centers by sampling each new one with probability proportional to its squared distance from the
nearest chosen center. We compare, over 20 seeds with one run each: final inertia (mean, worst) and
Lloyd iterations, and check against scikit-learn from the same starting centers.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans as SkKMeans

from groundup.classic import KMeans, StandardScaler
from groundup.data import load_sklearn


def main(seeds: int = 20) -> dict:
    results = {}
    for name, k in (("iris", 3), ("wine", 3), ("digits", 10)):
        X = StandardScaler().fit_transform(load_sklearn(name)[0])
        for init in ("random", "k-means++"):
            runs = [KMeans(k, init=init, n_init=1, random_state=s).fit(X) for s in range(seeds)]
            inertia = np.array([r.inertia_ for r in runs])
            iters = np.mean([r.n_iter_ for r in runs])
            results[(name, init)] = inertia
            print(
                f"{name:<7} {init:<10} inertia mean {inertia.mean():9.2f} worst {inertia.max():9.2f} best {inertia.min():9.2f}  iterations {iters:5.1f}"
            )
        start = X[np.random.RandomState(0).choice(len(X), k, replace=False)]
        ours, ref = KMeans(k, init=start).fit(X), SkKMeans(k, init=start, n_init=1).fit(X)
        print(f"{name:<7} same start: inertia ours {ours.inertia_:.6f} sklearn {ref.inertia_:.6f}")
    return results


if __name__ == "__main__":
    main()
