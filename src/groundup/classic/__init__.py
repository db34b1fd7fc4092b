"""Classical machine learning in NumPy with scikit-learn's estimator API (curriculum module 0.1).

Every estimator works inside scikit-learn's Pipeline, cross_val_score and GridSearchCV, and is
checked against scikit-learn on iris, wine, breast cancer and digits (tests/classic/).
"""

from groundup.classic.base import BaseEstimator, NotFittedError, clone
from groundup.classic.cluster import KMeans
from groundup.classic.coordinate_descent import ElasticNet, Lasso
from groundup.classic.decomposition import PCA
from groundup.classic.forest import RandomForestClassifier
from groundup.classic.linear import LinearRegression, Ridge
from groundup.classic.logistic import LogisticRegression
from groundup.classic.mixture import GaussianMixture
from groundup.classic.naive_bayes import GaussianNB, MultinomialNB
from groundup.classic.neighbors import KNeighborsClassifier, KNeighborsRegressor
from groundup.classic.preprocessing import StandardScaler
from groundup.classic.svm import SVC
from groundup.classic.tree import DecisionTreeClassifier, DecisionTreeRegressor

ESTIMATORS = (
    LinearRegression,
    Ridge,
    Lasso,
    ElasticNet,
    LogisticRegression,
    GaussianNB,
    MultinomialNB,
    KNeighborsClassifier,
    KNeighborsRegressor,
    KMeans,
    GaussianMixture,
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    RandomForestClassifier,
    SVC,
    PCA,
    StandardScaler,
)

__all__ = [cls.__name__ for cls in ESTIMATORS] + ["BaseEstimator", "ESTIMATORS", "NotFittedError", "clone"]
