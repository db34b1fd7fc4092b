"""Every estimator of `groundup.classic`, for the checks that run them all (`check_estimator`, the
comparison benchmark)."""

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
