"""The estimators an output can use, by name, and a fast path to run them.

Every model is a scikit-learn estimator (a Pipeline with a StandardScaler
first where the model compares distances or sums weighted inputs). Settings
in an output's ``params`` table go to the final estimator (polynomial:
``degree`` and ``alpha``).

scikit-learn spends 0.1-0.4 ms checking its input on every ``predict``
call; with a few outputs at 60 frames a second that is most of a 1 ms
budget. So :func:`compile_predictor` turns a fitted kNN, MLP, linear,
polynomial or logistic model into a few numpy operations that give the
same answer (tests compare them with ``predict``); the other models are
called through scikit-learn with its checks off (the inputs are checked
once, by the mapper).
"""
from __future__ import annotations

import numpy as np
import sklearn
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from installation.errors import did_you_mean
from installation.mapping.errors import MappingError, ModelFileError

# name -> (estimator class, its defaults here, whether inputs are standardised)
CLASSIFIERS = {
    # k = 1 as in Wekinator: a handful of examples per class is enough.
    "knn": (KNeighborsClassifier, {"n_neighbors": 1, "algorithm": "brute"}, True),
    "svm": (SVC, {}, True),
    "tree": (DecisionTreeClassifier, {"random_state": 0}, False),
    "forest": (RandomForestClassifier, {"n_estimators": 50, "random_state": 0}, False),
    "adaboost": (AdaBoostClassifier, {"random_state": 0}, False),
    "naive_bayes": (GaussianNB, {}, False),
    "logistic": (LogisticRegression, {"max_iter": 2000}, True),
    "mlp": (MLPClassifier, {"hidden_layer_sizes": (32,), "solver": "lbfgs", "max_iter": 2000,
                            "random_state": 0}, True),
}
REGRESSORS = {
    "linear": (LinearRegression, {}, False),
    "polynomial": (Ridge, {"alpha": 1e-3}, True),  # after PolynomialFeatures(degree)
    # Wekinator's default for numbers is a small neural network too.
    "mlp": (MLPRegressor, {"hidden_layer_sizes": (16,), "solver": "lbfgs", "max_iter": 2000,
                           "random_state": 0}, True),
    "knn": (KNeighborsRegressor, {"n_neighbors": 3, "weights": "distance",
                                  "algorithm": "brute"}, True),
}
MODELS = {"classifier": CLASSIFIERS, "regressor": REGRESSORS}

# The only types a saved model file may hold (skops refuses any other when
# loading, so a model file cannot make the program run code of its choosing).
TRUSTED_TYPES = sorted({
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._polynomial.PolynomialFeatures",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neighbors._regression.KNeighborsRegressor",
    "sklearn.svm._classes.SVC",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._weight_boosting.AdaBoostClassifier",
    "sklearn.naive_bayes.GaussianNB",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._multilayer_perceptron.MLPRegressor",
    "sklearn.preprocessing._label.LabelBinarizer",
    "numpy.random._mt19937.MT19937",
    "numpy.random.mtrand.RandomState",
    "builtins.slice",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
})


def check_model(kind: str, name: str, params: dict, where: str) -> None:
    """MappingError unless ``name`` is a model of this output type and
    ``params`` are settings it has."""
    models = MODELS[kind]
    if name not in models:
        raise MappingError(f"unknown {kind} model {name!r}", where, did_you_mean(name, models))
    build(kind, name, params, where)


def build(kind: str, name: str, params: dict, where: str = "model"):
    """An unfitted estimator for an output (a Pipeline when scaled)."""
    cls, defaults, scaled = MODELS[kind][name]
    params = dict(params)
    steps = []
    if scaled:
        steps.append(("scale", StandardScaler()))
    if name == "polynomial":
        degree = params.pop("degree", 2)
        if not isinstance(degree, int) or isinstance(degree, bool) or not 1 <= degree <= 5:
            raise MappingError(f"polynomial degree must be a whole number 1..5, got {degree!r}",
                               where)
        steps.append(("poly", PolynomialFeatures(degree, include_bias=False)))
    estimator = cls(**defaults)
    valid = estimator.get_params(deep=False)
    for key, value in params.items():
        if key not in valid:
            extra = ["degree"] if name == "polynomial" else []
            raise MappingError(f"unknown setting {key!r} for model {name!r}", where,
                               did_you_mean(key, [*valid, *extra]))
    estimator.set_params(**params)
    if name == "mlp":
        _check_layers(estimator.hidden_layer_sizes, where)
    steps.append(("model", estimator))
    return Pipeline(steps) if len(steps) > 1 else estimator


# A mapper's network learns from hundreds of examples on the piece's own
# computer; past these sizes it would only exhaust the memory while training.
MAX_LAYERS, MAX_LAYER, MAX_WEIGHTS = 8, 4096, 4_000_000


def _check_layers(sizes, where: str) -> None:
    """MappingError unless ``hidden_layer_sizes`` is a few whole numbers of a
    size a machine can train (weights between hidden layers counted)."""
    sizes = [sizes] if isinstance(sizes, int) else sizes
    fits = isinstance(sizes, (list, tuple)) and 1 <= len(sizes) <= MAX_LAYERS and all(
        isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_LAYER for n in sizes)
    if fits and sum(a * b for a, b in zip(sizes, sizes[1:])) <= MAX_WEIGHTS:
        return
    raise MappingError(f"hidden_layer_sizes {sizes!r} cannot be trained here", where,
                       f"give 1 to {MAX_LAYERS} layers of 1 to {MAX_LAYER} units, at most "
                       f"{MAX_WEIGHTS:,} weights between them, e.g. [32] or [64, 32]")


# -- fast prediction ------------------------------------------------------------------

_ACTIVATIONS = {
    "identity": lambda a: a,
    "relu": lambda a: np.maximum(a, 0.0),
    "tanh": np.tanh,
    "logistic": lambda a: 1.0 / (1.0 + np.exp(-a)),
}


def compile_predictor(estimator):
    """``f(x) -> float`` for one 1-D float64 sample, same result as
    ``estimator.predict(x[None])[0]``."""
    steps = list(estimator.steps) if isinstance(estimator, Pipeline) else [("model", estimator)]
    *transforms, (_, final) = steps
    prepare = _compile_transforms([t for _, t in transforms])
    core = _compile_final(final)
    if prepare is None or core is None:
        return _checked_off(estimator)
    return lambda x: core(prepare(x))


def _compile_transforms(transforms):
    funcs = []
    for step in transforms:
        if isinstance(step, StandardScaler):
            mean = step.mean_ if step.with_mean else 0.0
            scale = step.scale_ if step.with_std else 1.0
            funcs.append(lambda x, m=mean, s=scale: (x - m) / s)
        elif isinstance(step, PolynomialFeatures):
            powers = step.powers_.astype(np.float64)
            funcs.append(lambda x, p=powers: np.prod(np.power(x[None, :], p), axis=1))
        else:
            return None
    def prepare(x):
        for f in funcs:
            x = f(x)
        return x
    return prepare


def _compile_final(model):
    if isinstance(model, (KNeighborsClassifier, KNeighborsRegressor)):
        return _compile_knn(model)
    if isinstance(model, (MLPClassifier, MLPRegressor)):
        return _compile_mlp(model)
    if isinstance(model, (LinearRegression, Ridge)):
        coef = np.ravel(model.coef_)
        intercept = float(np.ravel(model.intercept_)[0]) if np.ndim(model.intercept_) else float(
            model.intercept_)
        return lambda x: float(x @ coef + intercept)
    if isinstance(model, LogisticRegression):
        coef, intercept, classes = model.coef_, model.intercept_, model.classes_
        if len(classes) == 2:
            return lambda x: float(classes[int((x @ coef[0] + intercept[0]) > 0)])
        return lambda x: float(classes[int(np.argmax(coef @ x + intercept))])
    return None


def _compile_knn(model):
    metric_ok = model.metric == "minkowski" and model.p == 2 or model.metric == "euclidean"
    if not metric_ok or model.weights not in ("uniform", "distance"):
        return None
    data = model._fit_X  # noqa: SLF001 - the training matrix kNN keeps
    k = min(model.n_neighbors, len(data))
    distance_weights = model.weights == "distance"
    if isinstance(model, KNeighborsClassifier):
        labels = np.asarray(model._y).ravel()  # noqa: SLF001 - encoded 0..C-1
        classes = model.classes_
        n_classes = len(classes)

    def neighbours(x):
        d2 = np.einsum("ij,ij->i", data - x, data - x)
        idx = np.argpartition(d2, k - 1)[:k] if k < len(d2) else np.arange(len(d2))
        return idx, np.sqrt(d2[idx])

    def weights(dist):
        if not distance_weights:
            return np.ones_like(dist)
        zero = dist == 0
        if zero.any():  # scikit-learn: exact matches take all the weight
            return zero.astype(np.float64)
        return 1.0 / dist

    if isinstance(model, KNeighborsClassifier):
        def predict(x):
            idx, dist = neighbours(x)
            votes = np.bincount(labels[idx], weights=weights(dist), minlength=n_classes)
            return float(classes[int(np.argmax(votes))])
    else:
        targets = np.asarray(model._y, dtype=np.float64).ravel()  # noqa: SLF001

        def predict(x):
            idx, dist = neighbours(x)
            w = weights(dist)
            return float(np.dot(w, targets[idx]) / w.sum())
    return predict


def _compile_mlp(model):
    layers = list(zip(model.coefs_, model.intercepts_))
    hidden = _ACTIVATIONS.get(model.activation)
    out = _ACTIVATIONS.get(model.out_activation_)
    if hidden is None or (out is None and model.out_activation_ != "softmax"):
        return None

    def forward(x):
        a = x
        for i, (w, b) in enumerate(layers):
            a = a @ w + b
            if i < len(layers) - 1:
                a = hidden(a)
        return a

    if isinstance(model, MLPRegressor):
        return lambda x: float(forward(x)[0])
    classes = model.classes_
    if model.out_activation_ == "softmax":
        return lambda x: float(classes[int(np.argmax(forward(x)))])
    # Binary: one logistic unit; > 0 before the logistic is > 0.5 after it.
    return lambda x: float(classes[int(forward(x)[0] > 0)])


def _checked_off(estimator):
    def predict(x):
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return float(estimator.predict(x[None, :])[0])
    return predict


# -- a model read from a file ---------------------------------------------------------


def check_loaded(spec, estimator, n_inputs: int, where: str):
    """The fast predictor of a model read from a file, after checking that it
    is the model ``spec`` names, fitted on ``n_inputs`` inputs, and (for a
    classifier) knows only the output's classes. ModelFileError otherwise:
    a model file put in place of another must not run silently."""
    def final(model):
        return model.steps[-1][1] if isinstance(model, Pipeline) else model

    expected = type(final(build(spec.type, spec.model, spec.params, where)))
    found = final(estimator) if isinstance(estimator, Pipeline) and estimator.steps else estimator
    if type(found) is not expected:
        raise ModelFileError(f"the file holds a {type(found).__name__}, but output "
                             f"{spec.name!r} is a {spec.type} using {spec.model} "
                             f"({expected.__name__})", where)
    n = getattr(estimator, "n_features_in_", None)
    if n != n_inputs:
        raise ModelFileError(f"the model was fitted on {n} inputs, output {spec.name!r} has "
                             f"{n_inputs}", where)
    if spec.type == "classifier":
        classes = np.asarray(getattr(found, "classes_", []), dtype=np.float64).ravel()
        k = spec.k
        bad = [c for c in classes if not (c.is_integer() and c >= 1 and (not k or c <= k))]
        if bad or len(classes) < 2:
            raise ModelFileError(f"the model's classes are {classes.tolist()[:10]}, output "
                                 f"{spec.name!r} has classes 1..{k or 'K'}", where)
    try:
        predict = compile_predictor(estimator)
        value = predict(np.zeros(n_inputs))
    except Exception as error:  # noqa: BLE001 - any failure inside a damaged model
        raise ModelFileError(f"the model cannot run ({type(error).__name__}: "
                             f"{str(error)[:200]})", where) from None
    if not np.isfinite(value):
        raise ModelFileError(f"the model answers {value} (not a finite number)", where)
    return predict
