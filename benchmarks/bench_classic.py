"""Classical ML: fit time of each groundup.classic estimator vs scikit-learn on the largest built-in table.

Each estimator runs on digits (1797 x 64, the largest of scikit-learn's bundled tables); regressors
predict one pixel from the others. Goal (issue 5): ours / scikit-learn <= 3x for the vectorized
algorithms, <= 10x for trees, forests and SVC. Both libraries run on one BLAS/OpenMP thread: on a shared
machine more threads mostly measure the neighbours (OpenBLAS threads spin while they wait).
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

from benchmarks.harness import Report
from examples.classic.suite import CASES, fit, problem, score


def run(report: Report, quick: bool) -> None:
    with threadpool_limits(1):
        for case in CASES:
            X, y = problem(case, "digits")
            repeats = 1 if quick or case.goal > 3 else 21  # millisecond fits: many repeats steady the median
            ours_model, peer_model = fit(case.ours, X, y), fit(case.peer, X, y)
            row = report.compare(
                case.name,
                lambda case=case, X=X, y=y: fit(case.ours, X, y),
                lambda case=case, X=X, y=y: fit(case.peer, X, y),
                peer_name="scikit-learn",
                warmup=0 if case.goal > 3 else 1,
                repeats=repeats,
                dataset="digits",
                score_ours=score(case, ours_model, X, y),
                score_peer=score(case, peer_model, X, y),
                goal_max_slowdown=case.goal,
            )
            row["slowdown"] = row["ours_median_s"] / row["peer_median_s"]
            row["slowdown_best"] = min(row["ours_times_s"]) / min(row["peer_times_s"])
            row["meets_goal"] = row["slowdown"] <= case.goal
