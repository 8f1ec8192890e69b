"""The errors of a mapper project.

They sit below every other module of the package: the output settings
(spec.py), the estimators (estimators.py) and the model files (store.py)
all raise them, and none of those needs to import another to do so.
"""
from __future__ import annotations

from installation.errors import InstallationError


class MappingError(InstallationError):
    """A mapper project, example or model that cannot be used as it is."""


class ModelFileError(MappingError):
    """A model file or the model manifest cannot be used. Training makes
    them anew from the examples, so nothing is lost."""
