"""Fitting one classifier or regressor output, and scoring it by
cross-validation."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from installation.mapping.errors import MappingError
from installation.mapping.estimators import build, compile_predictor
from installation.mapping.spec import ClassifierOutput


@dataclass
class Trained:
    """A fitted classifier or regressor and how it was made."""

    estimator: object
    predict: object  # fast f(x) -> float
    signature: dict
    score: float | None
    score_name: str
    examples: int
    trained: str  # ISO time


@dataclass(frozen=True)
class TrainReport:
    output: str
    examples: int
    score: float | None = None
    score_name: str = ""
    seconds: float = 0.0
    error: str | None = None

    def line(self) -> str:
        if self.error:
            return f"{self.output}: not trained: {self.error}"
        score = (f"{self.score_name} {self.score:.3f}" if self.score is not None
                 else "no cross-validation (too few examples)")
        return f"{self.output}: trained on {self.examples} examples, {score} ({self.seconds:.1f} s)"


def fit_output(spec, X: np.ndarray, y: np.ndarray, signature: dict) -> Trained:
    """Fit one classifier or regressor output; MappingError if it cannot be."""
    where = f"output {spec.name!r}"
    if len(y) == 0:
        raise MappingError("no examples", where, "record some examples for it first")
    if isinstance(spec, ClassifierOutput):
        y = y.astype(np.int64)
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise MappingError(f"examples of class {classes[0]} only", where,
                               "record examples of at least one other class")
    elif len(y) < 2:
        raise MappingError("one example only", where, "record at least two examples")
    kind = spec.type
    estimator = build(kind, spec.model, spec.params, where)
    neighbours = spec.params.get("n_neighbors")
    if isinstance(neighbours, int) and neighbours > len(y):
        raise MappingError(f"n_neighbors is {neighbours}, more than the {len(y)} examples",
                           where, f"record more examples, or set n_neighbors to {len(y)} or less")
    try:
        estimator.fit(X, y)
        answers = estimator.predict(X[:20])
    except (ValueError, TypeError) as error:  # a bad setting (its value or its type), or
        # data the model cannot take; params come from project.toml as a person wrote them
        text = " ".join(str(error).split())[:300]  # scikit-learn's messages run over lines
        raise MappingError(f"{spec.model} cannot be trained: {text}", where,
                           "check the output's params, or choose another model") from None
    # Numbers near the float limits can fit to NaN without an error; such a
    # model must not run.
    if not np.isfinite(answers).all():
        raise MappingError(f"{spec.model} gives no finite answers for its own examples", where,
                           "check the examples for huge numbers, or choose another model")
    score, score_name = cross_validate(spec, X, y)
    return Trained(estimator=estimator, predict=compile_predictor(estimator), signature=signature,
                   score=score, score_name=score_name, examples=len(y),
                   trained=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def cross_validate(spec, X: np.ndarray, y: np.ndarray) -> tuple[float | None, str]:
    """A cross-validated score: accuracy for classifiers, RMS error for
    regressors (in the output's units). Folds are contiguous, not shuffled:
    neighbouring frames are near copies, and a shuffled split would
    mostly test on copies of the training frames."""
    import warnings

    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    if isinstance(spec, ClassifierOutput):
        folds = min(5, int(np.unique(y, return_counts=True)[1].min()))
        if folds < 2:
            return None, "accuracy"
        cv, scoring, name = StratifiedKFold(folds), "accuracy", "accuracy"
    else:
        if len(y) < 4:
            return None, "rms error"
        cv, scoring, name = KFold(min(5, len(y))), "neg_root_mean_squared_error", "rms error"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter from small folds
        scores = cross_val_score(build(spec.type, spec.model, spec.params), X, y, cv=cv,
                                 scoring=scoring, error_score=np.nan)
    if np.isnan(scores).all():
        return None, name
    value = float(np.nanmean(scores))
    return (value if scoring == "accuracy" else -value), name
