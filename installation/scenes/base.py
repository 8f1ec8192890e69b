"""The Scene contract: what an artist writes to make a picture.

A scene is one class in one file (``scenes/ripples.py``)::

    from installation import Scene

    class Ripples(Scene):
        '''Rings spread from fast-moving wrists.  Preview: installation preview ripples'''
        name = "ripples"                        # the id profiles use

        def __init__(self, speed: float = 120.0, palette: str = "dusk"):
            self.speed, self.palette = speed, palette   # store settings only

        def enter(self, size): ...              # allocate surfaces, load fonts
        def update(self, frame, outputs, dt): ... # landmarks + mapper outputs
        def draw(self, surface): ...            # the one required hook
        def exit(self): ...
        def on_visitor(self, event): ...        # someone entered or left the view

Settings are the constructor's keyword arguments with defaults (the
scikit-learn rule): a profile's ``[scenes.ripples]`` table is checked against
that signature. Scenes never open the camera, models or sockets: the
framework hands them a :class:`~installation.types.Frame` (people, and the
camera image when there is one) and ``outputs``, the mapper's named values
(an empty dict when no mapper runs), and, before ``enter``, ``self.props``
(:class:`~installation.scenes.props.Props`): the piece's models folder,
``self.props.dreamer(...)``, a dream process that ends when the scene leaves
the stage, after a fault too, and ``self.props.later(work, ...)``, slow work
(a file to read) on a thread of its own. Without a stage (a test calling the
hooks itself) ``props`` is None.

The hooks run on the render thread, in this order: ``enter`` as the scene
comes on stage, then per drawn frame (about 60 a second) any ``on_visitor``
events, ``update`` and ``draw``, and ``exit`` as it leaves (a window resize
is ``exit`` then ``enter`` at the new size, and ``draw`` may follow
``enter`` with no ``update`` between). ``update`` gets the newest tracked frame on every
call, so the same frame comes again until tracking has a newer one
(``frame.index`` tells them apart); ``dt`` is real time, for animation. A
hook that raises, or update+draw overrunning the frame budget, takes the scene
off stage (see docs/scenes.md).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from installation.types import Frame

if TYPE_CHECKING:  # the props bring the models and the dream process: only for the reader
    from installation.scenes.props import Props


class Scene:
    """Base class of every scene; only :meth:`draw` must be written."""

    name: str = ""  # id used in profiles and on the command line
    #: The lowest and highest value of numeric settings, checked as the
    #: profile is read (a mistake is one line before the show, not a scene
    #: failing on stage), e.g. ``{"speed": (0, 1000)}``.
    limits: dict[str, tuple[float, float]] = {}
    props: Props | None = None  # what the stage hands the scene, set before enter (see above)

    def enter(self, size: tuple[int, int]) -> None:
        """The scene goes on stage on a surface of ``size``; allocate here."""

    def update(self, frame: Frame, outputs: dict[str, float], dt: float) -> None:
        """New landmarks (``frame``) and mapper ``outputs``; ``dt`` seconds since the last call."""

    def draw(self, surface) -> None:  # pygame.Surface
        """Paint the whole surface."""
        raise NotImplementedError(f"scene {self.name or type(self).__name__} must define draw()")

    def exit(self) -> None:
        """The scene leaves the stage; release what enter() made."""

    def models_needed(self) -> tuple[str, ...]:
        """The models (names as ``installation models list`` shows them) the
        scene cannot work without, with its settings. Where one is missing,
        the director leaves the scene out of the tour and the playlist."""
        return ()

    def on_visitor(self, event) -> None:  # installation.scenes.VisitorEvent
        """A visitor came into view (``event.kind == "enter"``) or left it
        (``"leave"``); ``event.person_id`` is their id in ``frame.people``.
        Called just before ``update`` with the frame that showed it."""
