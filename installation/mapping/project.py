"""A mapper project: named inputs, named outputs, examples, trained models.

A project is kept in a folder a person can read (its files: folder.py).
``Project.load`` only reads: a project written by another version, a
damaged or untrusted file gives a MappingError naming the file and what to
do, and no file is changed. ``save`` writes each file atomically, the model
manifest last, and takes in what another process wrote meanwhile.

The project holds what it is and what it has learnt; folder.py reads and
writes the files (and notes what they held, to tell when another process
wrote them), store.py the model files.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from installation.errors import did_you_mean
from installation.mapping import toml
from installation.mapping.dataset import Examples, Templates
from installation.mapping.dtw import GestureModel, fit_gestures
from installation.mapping.errors import MappingError, ModelFileError
from installation.mapping.folder import EXAMPLES_FILE, GESTURES_FILE, PROJECT_FILE, Folder
from installation.mapping.spec import (GestureOutput, OutputSpec, RegressorOutput,
                                       check_input_names, check_name, outputs_by_name,
                                       project_from_dict, project_to_dict)
from installation.mapping.store import read_models, save_models
from installation.mapping.train import TrainReport, Trained, fit_output

log = logging.getLogger("installation.mapping")


class Project:
    """Inputs, outputs, examples and models.

    ``features`` names the feature groups whose columns are the inputs (see
    installation.features); or, for inputs that arrive by OSC, ``inputs``
    names them and ``features`` is empty.
    """

    def __init__(self, outputs, *, features=(), inputs=(), path=None, where: str | None = None):
        from installation.features import columns_of, expand

        self.path = path
        where = where or (str(self.path / PROJECT_FILE) if self.path else "project")
        self.features = expand(features, where) if features else ()
        if self.features and inputs:
            raise MappingError("a project takes its inputs from features or names them, not both",
                               where, "remove 'inputs' or 'features'")
        self.inputs = columns_of(self.features) if self.features else tuple(inputs)
        check_input_names(self.inputs, where)
        self.outputs: dict[str, OutputSpec] = outputs_by_name(outputs, where)
        self.columns = {name: spec.resolve_inputs(self.inputs, where)
                        for name, spec in self.outputs.items()}
        # Index arrays for outputs that use some inputs only (precomputed:
        # predict runs on every frame).
        self._index = {name: np.array(cols) for name, cols in self.columns.items()
                       if len(cols) != len(self.inputs)}
        # Changes are kept only where they are saved (see save).
        track = self.path is not None
        self.examples = Examples(self.inputs, self.learned, track=track)
        self.templates = Templates(self.inputs, track=track)
        self.trained_: dict[str, Trained] = {}
        self.gestures_: dict[str, GestureModel] = {}
        #: Problems with the model files met by ``load(path, models="skip")``.
        self.model_problems: list[ModelFileError] = []
        self._unsaved_models: set[str] = set()
        # The manifest lists a model that could not be used: rewrite it.
        self._rewrite_manifest = False

    @property
    def path(self) -> Path | None:
        """The project's folder (None: the project lives in memory only)."""
        return self._folder.path if self._folder is not None else None

    @path.setter
    def path(self, path) -> None:
        # Another folder: nothing is known yet of what its files hold.
        self._folder = Folder(Path(path)) if path is not None else None

    # -- what it is -----------------------------------------------------------------

    @property
    def learned(self) -> tuple[str, ...]:
        """Classifier and regressor outputs (those examples.csv holds)."""
        return tuple(n for n, s in self.outputs.items() if not isinstance(s, GestureOutput))

    @property
    def dtw(self) -> tuple[str, ...]:
        return tuple(n for n, s in self.outputs.items() if isinstance(s, GestureOutput))

    def is_trained(self, name: str) -> bool:
        return name in self.trained_ or name in self.gestures_

    def signature(self, name: str) -> dict:
        """What a trained model depends on; a change means "train again"."""
        spec = self.outputs[name]
        sig = {"type": spec.type, "inputs": [self.inputs[i] for i in self.columns[name]]}
        if not isinstance(spec, GestureOutput):
            sig.update(model=spec.model, params=json.loads(json.dumps(spec.params)))
        else:
            sig.update(threshold=spec.threshold, downsample=spec.downsample)
        return sig

    def renamed(self, inputs=None, outputs=None) -> "Project":
        """The same project with new input or output names (Wekinator's
        setInputNames / setOutputNames); only while it has no examples."""
        import dataclasses

        if len(self.examples) or len(self.templates) or self.trained_ or self.gestures_:
            raise MappingError("names can change only while the project has no examples",
                               str(self.path or "project"),
                               "delete all examples first, or start a new project")
        if inputs is not None:
            if self.features:
                raise MappingError("inputs come from features; their names are fixed",
                                   str(self.path or "project"))
            if len(inputs) != len(self.inputs):
                raise MappingError(f"got {len(inputs)} input names, the project has "
                                   f"{len(self.inputs)} inputs", "setInputNames")
        specs = list(self.outputs.values())
        if outputs is not None:
            if len(outputs) != len(specs):
                raise MappingError(f"got {len(outputs)} output names, the project has "
                                   f"{len(specs)} outputs", "setOutputNames")
            specs = [dataclasses.replace(spec, name=check_name(name, "output", "setOutputNames"))
                     for spec, name in zip(specs, outputs)]
        if inputs is not None:
            # Patterns naming old inputs would point at nothing.
            specs = [dataclasses.replace(spec, inputs=()) if spec.inputs else spec
                     for spec in specs]
        project = Project(specs, features=self.features,
                          inputs=() if self.features else (inputs or self.inputs),
                          path=self.path)
        # The files are the same files: what they held is known.
        if self._folder is not None:
            project._folder = dataclasses.replace(self._folder)
        return project

    # -- TOML -----------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict, where: str, path=None) -> "Project":
        """The project project.toml's ``data`` describes (MappingError naming
        ``where`` if it cannot be one)."""
        features, inputs, specs = project_from_dict(data, where)
        return cls(specs, features=features, inputs=inputs, path=path, where=where)

    def to_dict(self) -> dict:
        return project_to_dict(self.features, self.inputs, self.outputs)

    # -- examples -------------------------------------------------------------------

    def next_take(self) -> int:
        takes = self.examples.takes() | self.templates.takes()
        return max(takes, default=0) + 1

    def check_inputs(self, x, where: str = "inputs") -> np.ndarray:
        """``x`` as a float64 vector of the project's inputs, or MappingError."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (len(self.inputs),):
            raise MappingError(f"got {x.size} input values, the project has {len(self.inputs)}",
                               where, "send one value per input, in order")
        if not np.isfinite(x).all():
            bad = self.inputs[int(np.flatnonzero(~np.isfinite(x))[0])]
            raise MappingError(f"input {bad!r} is not a finite number", where,
                               "NaN and infinity are never recorded or run")
        return x

    def add_example(self, take: int, x, values: dict) -> None:
        """One example: inputs and the values of the outputs it teaches."""
        x = self.check_inputs(x, "example")
        y = np.full(len(self.learned), np.nan)
        for name, value in values.items():
            if name not in self.outputs:
                raise MappingError(f"unknown output {name!r}", "example",
                                   did_you_mean(name, self.outputs))
            if name in self.learned:
                y[self.learned.index(name)] = self.outputs[name].check_value(value, "example")
        if np.isnan(y).all():
            return
        self.examples.add(take, x, y)

    def add_template(self, take: int, output: str, gesture, frames) -> None:
        spec = self.outputs.get(output)
        if not isinstance(spec, GestureOutput):
            raise MappingError(f"{output!r} is not a dtw output", "gesture",
                               did_you_mean(output, self.dtw) if self.dtw else
                               "the project has no dtw output")
        gesture = int(spec.check_value(gesture, "gesture"))
        frames = np.asarray(frames, dtype=np.float64)
        if len(frames) < spec.min_length:
            raise MappingError(f"gesture of {len(frames)} frames is shorter than min_length "
                               f"({spec.min_length})", output, "perform it again, a bit longer")
        for x in frames:
            self.check_inputs(x, "gesture")
        self.templates.add(take, output, gesture, frames)

    def delete_all(self) -> int:
        return self.examples.clear() + self.templates.clear()

    def delete_output(self, name: str) -> int:
        if name not in self.outputs:
            raise MappingError(f"unknown output {name!r}", "delete",
                               did_you_mean(name, self.outputs))
        if name in self.dtw:
            return self.templates.delete_output(name)
        return self.examples.delete_output(name)

    def delete_take(self, take: int) -> int:
        return self.examples.delete_take(take) + self.templates.delete_take(take)

    def counts(self, name: str) -> dict[float, int]:
        """Examples per value (classifier), per gesture (dtw), or {value: n}."""
        if name in self.dtw:
            return self.templates.counts(name)
        return self.examples.counts(name)

    # -- training -------------------------------------------------------------------

    def train(self, names=None, *, progress: bool = False, on_output=None) -> list[TrainReport]:
        """Train the given outputs (all by default); one report each. An
        output that cannot be trained keeps its previous model."""
        from tqdm import tqdm

        names = list(self.outputs) if names is None else list(names)
        for name in names:
            if name not in self.outputs:
                raise MappingError(f"unknown output {name!r}", "train",
                                   did_you_mean(name, self.outputs))
        reports = []
        # The bar appears only when training takes more than a moment.
        bar = tqdm(names, desc="training", unit="output", delay=0.5, disable=not progress,
                   leave=False)
        for name in bar:
            bar.set_postfix_str(name)
            if on_output is not None:
                on_output(name)
            start = time.monotonic()
            try:
                report = self._train_one(name)
            except MappingError as error:
                report = TrainReport(name, 0, error=error.what)
            reports.append(TrainReport(**{**report.__dict__,
                                          "seconds": time.monotonic() - start}))
        bar.close()
        return reports

    def _train_one(self, name: str) -> TrainReport:
        spec = self.outputs[name]
        if isinstance(spec, GestureOutput):
            model = self._fit_dtw(name)
            # Rebinding (not updating) the dict: a frame being run on
            # another thread keeps iterating the one it has.
            self.gestures_ = {**self.gestures_, name: model}
            self._unsaved_models.add(name)
            return TrainReport(name, len(model.templates), model.score, "leave-one-out accuracy")
        X, y = self.examples.for_output(name)
        X = X[:, self.columns[name]]
        trained = fit_output(spec, X, y, self.signature(name))
        self.trained_ = {**self.trained_, name: trained}
        self._unsaved_models.add(name)
        return TrainReport(name, len(y), trained.score, trained.score_name)

    def _fit_dtw(self, name: str) -> GestureModel:
        return fit_gestures(self.outputs[name], self.columns[name], self.templates.of(name))

    # -- running --------------------------------------------------------------------

    def predict(self, x) -> dict[str, float]:
        """The trained classifier and regressor outputs for one input vector."""
        x = self.check_inputs(x)
        out = {}
        for name, trained in self.trained_.items():
            value = trained.predict(x[self._index[name]] if name in self._index else x)
            spec = self.outputs[name]
            if isinstance(spec, RegressorOutput):
                value = spec.apply_limits(value)
            out[name] = value
        return out

    # -- the folder -----------------------------------------------------------------

    @classmethod
    def load(cls, path, *, models: str = "load") -> "Project":
        """Read a project folder (never writes to it). ``models``:

        - ``"load"``: a model file that cannot be used raises ModelFileError;
        - ``"skip"``: its output is left untrained instead, the problem is
          kept in ``model_problems``, and the next save drops it from the
          manifest (for training, which makes the models anew);
        - ``"none"``: the models are not read (nor written, unless trained).
        """
        if models not in ("load", "skip", "none"):
            raise ValueError(f"models={models!r}")
        path = Path(path)
        project = cls.from_dict(Folder(path).read_description(), str(path / PROJECT_FILE),
                                path=path)
        folder = project._folder
        examples, gestures = folder.read_data()
        project.examples, project.templates = project._parse(examples, gestures)
        folder.note_data(examples, gestures, project.examples.takes() | project.templates.takes())
        if models == "none":
            try:
                folder.note_manifest(folder.read_manifest())
            except MappingError:  # unreadable: left to training, which makes it anew
                pass
        else:
            project._read_models(skip=models == "skip")
        return project

    def _parse(self, examples: bytes | None, gestures: bytes | None):
        """Examples and Templates from the files' bytes (None: no file)."""
        parsed_examples = Examples(self.inputs, self.learned)
        parsed_templates = Templates(self.inputs)
        if examples is not None:
            checks = [self.outputs[n].check_value for n in self.learned]
            parsed_examples = Examples.from_csv(examples, self.inputs, self.learned,
                                                str(self.path / EXAMPLES_FILE), checks)
        if gestures is not None:
            counts = {n: len(self.outputs[n].gestures) for n in self.dtw}
            parsed_templates = Templates.from_csv(gestures, self.inputs, counts,
                                                  str(self.path / GESTURES_FILE))
        return parsed_examples, parsed_templates

    def _read_models(self, skip: bool) -> None:
        signatures = {name: self.signature(name) for name in self.outputs}
        try:
            trained, gestures, problems = read_models(self._folder, self.outputs, self.columns,
                                                      signatures, self.learned, skip)
        except ModelFileError as error:
            if error.fix and "upgrade" in error.fix:
                raise error from None
            raise ModelFileError(error.what, error.where,
                                 f"run `installation train {self.path}` to train afresh from "
                                 "the examples (nothing is lost)") from None
        self.trained_.update(trained)
        for name in gestures:
            try:
                self.gestures_[name] = self._fit_dtw(name)
            except MappingError:
                log.warning("%s: no gestures left for %r; train again", self.path, name)
        if problems:  # the manifest lists models that cannot be used: the next save drops them
            self.model_problems.extend(problems)
            self._rewrite_manifest = True

    def create(self) -> None:
        """Write a new project; MappingError if the folder holds one already."""
        if self.path is None:
            raise MappingError("the project has no folder", "project")
        with self._folder.writing(doing="create the project"):
            if self._folder.has(PROJECT_FILE):
                raise MappingError("a project already exists here", str(self.path),
                                   "choose another folder, or edit its project.toml")
            self._save_locked(settings=True)

    def save(self, *, settings: bool | None = None, wait: float | None = None) -> dict[int, int]:
        """Write the project (project.toml only when new or ``settings``),
        after taking in what another process wrote since it was read.
        Returns the takes renumbered because another process used their
        numbers meanwhile ({old: new}, mostly empty). ``wait``: seconds to
        wait for another writer (see lock.py). A folder that cannot be
        written gives a MappingError; every file stays whole."""
        if self.path is None:
            return {}
        with self._folder.writing(wait):
            return self._save_locked(settings)

    def _save_locked(self, settings: bool | None) -> dict[int, int]:
        folder = self._folder
        # A project made without a folder and given one later: all it holds is new here.
        self.examples.track()
        self.templates.track()
        renumber: dict[int, int] = {}
        merged = folder.take_in(self._parse, self.examples, self.templates)
        if merged is not None:
            # Rebinding: a training thread keeps iterating the copy it has.
            (self.examples, self.templates), renumber = merged
        settings = bool(settings or (settings is None and not folder.has(PROJECT_FILE)))
        if settings:
            folder.write_description(toml.dumps(self.to_dict()).encode("utf-8"))
        folder.write_data(self.examples, self.templates, rewrite=settings)
        trained = self.trained_ or self.gestures_
        if (self._unsaved_models or self._rewrite_manifest
                or (trained and not folder.manifest_file.exists())):
            signatures = {name: self.signature(name) for name in self.outputs}
            save_models(folder, signatures, self.learned, self.trained_, self.gestures_,
                        fresh=self._unsaved_models)
            self._unsaved_models.clear()
            self._rewrite_manifest = False
        return renumber
