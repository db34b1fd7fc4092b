"""Classical machine learning in NumPy with scikit-learn's estimator API (curriculum module 0.1).

Every estimator works inside scikit-learn's Pipeline, cross_val_score and GridSearchCV, and is
checked against scikit-learn on iris, wine, breast cancer and digits (tests/classic/).
Names load from their submodules on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "base": ["BaseEstimator", "NotFittedError", "clone"],
        "cluster": ["KMeans"],
        "coordinate_descent": ["ElasticNet", "Lasso"],
        "decomposition": ["PCA"],
        "forest": ["RandomForestClassifier"],
        "linear": ["LinearRegression", "Ridge"],
        "logistic": ["LogisticRegression"],
        "mixture": ["GaussianMixture"],
        "naive_bayes": ["GaussianNB", "MultinomialNB"],
        "neighbors": ["KNeighborsClassifier", "KNeighborsRegressor"],
        "preprocessing": ["StandardScaler"],
        "svm": ["SVC"],
        "tree": ["DecisionTreeClassifier", "DecisionTreeRegressor"],
        "estimators": ["ESTIMATORS"],
    },
)
