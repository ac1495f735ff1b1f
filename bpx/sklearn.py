"""scikit-learn estimators on bpx: :class:`MLPClassifier` and :class:`MLPRegressor`, with
``sklearn.neural_network``'s parameter names, defaults and meanings (needs scikit-learn)."""

from .integrations._sklearn import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
