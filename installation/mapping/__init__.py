"""Interactive machine learning, the Wekinator way: record examples of
"when I do this, the piece does that", train, run on every frame.

- :class:`Project` (project.py): inputs, outputs (classifier, regressor,
  dtw), examples, trained models; a readable folder (folder.py), saved
  atomically, one writer at a time (lock.py).
- :class:`Mapper` (mapper.py): the live record / train / run state.
- output settings in spec.py, estimators in estimators.py, fitting in
  train.py, DTW in dtw.py, model files in store.py, errors in errors.py.

The package imports nothing from the layers above it: the profile's
``[mapping]`` table becomes the app's training session in
installation.app.mapping_table (``load_mapper``).

See docs/mapping.md.
"""
from installation.mapping.errors import MappingError, ModelFileError
from installation.mapping.mapper import Mapper
from installation.mapping.project import Project, TrainReport
from installation.mapping.spec import (ClassifierOutput, GestureOutput, OutputSpec,
                                       RegressorOutput)

__all__ = ["ClassifierOutput", "GestureOutput", "Mapper", "MappingError", "ModelFileError",
           "OutputSpec", "Project", "RegressorOutput", "TrainReport"]
