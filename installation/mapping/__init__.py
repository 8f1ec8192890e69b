"""Interactive machine learning, the Wekinator way: record examples of
"when I do this, the piece does that", train, run on every frame.

- :class:`Project` (project.py): inputs, outputs (classifier, regressor,
  dtw), examples, trained models; a readable folder, saved atomically
  (folder.py), one writer at a time (lock.py).
- :class:`Mapper` (mapper.py): the live record / train / run state.
- output settings in spec.py, models in models.py, DTW in dtw.py.
- :func:`load_mapper`: the profile's ``[mapping]`` table -> the app's
  training session (defined in installation.app.training).

See docs/mapping.md.
"""
from installation.mapping.mapper import Mapper
from installation.mapping.project import Project, TrainReport
from installation.mapping.spec import (ClassifierOutput, GestureOutput, MappingError,
                                       OutputSpec, RegressorOutput)
from installation.mapping.store import ModelFileError


def load_mapper(profile):
    """The training session a profile's ``[mapping]`` table describes, or
    None when it has none (see installation.app.training.load_mapper)."""
    from installation.app.training import load_mapper as load
    return load(profile)


__all__ = ["ClassifierOutput", "GestureOutput", "Mapper", "MappingError", "ModelFileError",
           "OutputSpec", "Project", "RegressorOutput", "TrainReport", "load_mapper"]
