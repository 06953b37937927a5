"""Training the Keras networks of :mod:`ser_utils.models`: settings, one fit, batches.

    from ser_utils.training import TrainConfig, fit_network
    fit = fit_network("cnn1", [X_train], y_train, n_classes, X_val=[X_val], y_val=y_val,
                      config=TrainConfig(epochs=30, patience=4))

Cross-validation does not happen here: :class:`ser_utils.estimators.NetworkClassifier` wraps a fit
as a scikit-learn estimator (validation speakers carved from its training data, refits, ensembles,
progressive resizing) and :func:`ser_utils.evaluation.cross_validate` runs it in the folds.
"""

from .config import TrainConfig
from .fit import (
    FitResult,
    architecture_table,
    average_models,
    build_network,
    class_weights,
    copy_weights,
    fit_network,
    predict_proba,
    steady_epoch_seconds,
)

__all__ = [
    "FitResult",
    "TrainConfig",
    "architecture_table",
    "average_models",
    "build_network",
    "class_weights",
    "copy_weights",
    "fit_network",
    "predict_proba",
    "steady_epoch_seconds",
]
