"""The tour: what a first run shows before the playlist.

With no camera and nothing asked for, ``installation run`` plays the demo
take. A newcomer would see one scene and not know that the piece watches
two bodies or what moving does, so the show opens with a tour: each scene
of :data:`CAPTIONS` in turn, for ``seconds`` each (20 by default), with its
name and one line saying what the body does to it, large enough to read
from across a room, fading in and out with the scene. Mirror comes first:
skeletons, ids, hands, and the mapper's outputs moving with the bodies.
Then the director plays its playlist as usual.

The tour ends early when anything else switches the scene (a key, the
technician menu, OSC, the timer, a mapper output, the attract scene); a
scene that fails is replaced by the fallback scene as always, without a
caption, and the tour goes on with the next scene when its time is up.
``installation run --no-tour`` skips it, ``--tour`` plays it on any source.
"""
from __future__ import annotations

import logging

from installation.scenes.director import Director
from installation.scenes.needs import say_left_out

log = logging.getLogger("installation.tour")

#: The tour, in order: scene name -> what the body does to it. One line each
#: (it is wrapped when it is wider than the caption); edit, reorder or drop
#: lines freely. Scenes not found are left out.
CAPTIONS = {
    "mirror": "Each body gets a skeleton and a number; a mapper turns it into the bars",
    "particles": "Light circles your hands: arms wide spread it, hands high turn it blue",
    "poetry": "Your hands write a poem word by word; the more you move, the faster it comes",
    "dream": "A network dreams bodies into the room: stand still for more, spread your hands to zoom in",
}
STEP_SECONDS = 20.0
CAPTION_FADE = 1.0  # seconds of fade in and out (at most a quarter of a step)
# Where the caption sits: on the right, its top a fifth of the way down. That
# is below mirror's output bars and clear of the bottom, where poetry spells
# out its line; the demo take's two people stay in the left half there.
CAPTION_TOP = 0.2  # of the screen's height
CAPTION_WIDTH = 0.42  # at most, of the screen's width

# Switch reasons (see Director) that mean someone else took over the show.
TAKEOVER = ("key", "osc", "menu", "timer", "mapper", "attract", "visitor", "console")

TITLE = (250, 250, 252)
LINE = (214, 220, 232)
BACKING = (6, 8, 14, 178)


class TourDirector(Director):
    """A Director that can open the show with a tour (:meth:`begin_tour`)
    and then plays its playlist; without a tour it is a plain Director."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tour: list[tuple[str, str]] = []  # (scene, caption) in order
        self.step_seconds = STEP_SECONDS
        self.step_index = 0  # the step on now; len(self.tour) once the tour is over
        self._step_started: float | None = None
        self._tour_now = 0.0
        self._last_switch = None  # the newest entry of self.switches already looked at
        self._said_left_out = False  # the scenes left out for a missing model (Director)

    @property
    def touring(self) -> bool:
        return self.step_index < len(self.tour)

    def begin_tour(self, captions: dict[str, str] | None = None,
                   seconds: float | None = None) -> list[str]:
        """Open the show with a tour of ``captions`` (default :data:`CAPTIONS`),
        ``seconds`` a scene (default :data:`STEP_SECONDS`); call before the
        show starts. Returns the scenes it will show (those that exist here)."""
        captions = CAPTIONS if captions is None else captions
        seconds = STEP_SECONDS if seconds is None else float(seconds)
        missing = [name for name in captions if name not in self.catalog]
        if missing:
            log.info("tour: no scene %s here; left out", ", ".join(missing))
        # A scene whose model is missing here would be a dead screen (the
        # director has said why in the log).
        self.tour = [(name, line) for name, line in captions.items()
                     if name in self.catalog and name not in self.left_out]
        self.step_seconds, self.step_index = seconds, 0
        if self.tour:
            log.info("tour: %s, %g s each, then the playlist (installation run --no-tour "
                     "skips it)", ", ".join(name for name, _ in self.tour), seconds)
        return [name for name, _ in self.tour]

    # -- the Director's hooks, with the tour around them -----------------------------

    def start(self, size, now: float, scene: str | None = None) -> None:
        """As Director.start; during the tour the show starts (again) at the
        tour's current scene. The first start says which scenes were left out."""
        if not self._said_left_out:
            say_left_out(self.left_out)
            self._said_left_out = True
        if not self.touring:
            super().start(size, now, scene)
            return
        super().start(size, now, self.tour[self.step_index][0])
        self._step_started = None
        self._last_switch = self.switches[-1] if self.switches else None

    def update(self, frame, outputs: dict, now: float, *, new_frame: bool = True) -> None:
        """Move the tour on when its scene's time is up, then as Director.update."""
        self._tour_now = now
        if self.touring:
            if self._step_started is None:
                # The step's scene came on in the last pass: its time counts
                # from now, after its enter(), which may have taken a while.
                self._begin_step(now)
            elif now - self._step_started >= self.step_seconds:
                self.step_index += 1
                if self.touring:
                    self.request(self.tour[self.step_index][0], "tour")
                    self._step_started = None
                else:
                    self._end_tour()
        super().update(frame, outputs, now, new_frame=new_frame)
        if self.touring:
            self._notice_takeover()

    def draw(self, surface) -> None:
        """As Director.draw, then the tour's caption over the scene it names."""
        super().draw(surface)
        if self.touring:
            name, line = self.tour[self.step_index]
            if self.current == name:
                draw_caption(surface, name, line, self._caption_opacity())

    # -- inside -----------------------------------------------------------------------

    def _begin_step(self, now: float) -> None:
        self._step_started = now
        name, line = self.tour[self.step_index]
        log.info("tour %d/%d: %s: %s", self.step_index + 1, len(self.tour), name, line)

    def _end_tour(self) -> None:
        self.step_index = len(self.tour)
        if not self.playlist:
            return
        first = self.first or self.playlist[0]
        log.info("tour over: the playlist plays from %s (%s)", first, ", ".join(self.playlist))
        self.request(first, "tour over")

    def _notice_takeover(self) -> None:
        last = self.switches[-1] if self.switches else None
        if last is self._last_switch:
            return
        self._last_switch = last
        if last is not None and last[2] in TAKEOVER:
            self.step_index = len(self.tour)
            log.info("tour ended: scene %s asked by %s; the playlist plays on", last[1], last[2])

    def _caption_opacity(self) -> float:
        if self._step_started is None:
            return 0.0
        into = self._tour_now - self._step_started
        fade = min(CAPTION_FADE, self.step_seconds / 4)
        if fade <= 0:
            return 1.0
        return max(0.0, min(1.0, into / fade, (self.step_seconds - into) / fade))


def draw_caption(surface, title: str, line: str, opacity: float = 1.0):
    """A scene's name and one line about it, large, on a dark backing at the
    right of ``surface`` (see CAPTION_TOP); ``opacity`` 0..1 fades it.
    Returns the area it covers (a pygame.Rect)."""
    import pygame

    width, height = surface.get_size()
    card = _caption_card(height, int(width * CAPTION_WIDTH), title, line)
    margin = max(8, round(height * 0.045))
    topleft = (width - margin - card.get_width(), round(height * CAPTION_TOP))
    if opacity <= 0:
        return pygame.Rect(topleft, (0, 0))
    card.set_alpha(round(255 * min(1.0, opacity)))
    return surface.blit(card, topleft)


_cards: dict = {}  # the last few captions drawn, ready to blit


def _caption_card(height: int, text_width: int, title: str, line: str):
    """The caption as a translucent card: the title, then ``line`` wrapped
    to ``text_width`` pixels. Sizes follow the screen's height, so it reads
    the same on a laptop and a projector."""
    import pygame

    from installation.scenes.draw import wrap

    key = (height, text_width, title, line)
    if key in _cards:
        return _cards[key]
    if not pygame.font.get_init():
        pygame.font.init()
    title_font = pygame.font.Font(None, max(28, height // 9))
    line_font = pygame.font.Font(None, max(18, height // 20))
    pad = max(6, height // 48)
    rows = [title_font.render(title, True, TITLE)]
    rows += [line_font.render(text, True, LINE) for text in wrap(line.split(), line_font, text_width)]
    card = pygame.Surface((max(r.get_width() for r in rows) + 2 * pad,
                           sum(r.get_height() for r in rows) + 2 * pad), pygame.SRCALPHA)
    card.fill(BACKING)
    y = pad
    for row in rows:
        card.blit(row, (pad, y))
        y += row.get_height()
    if len(_cards) >= 8:
        _cards.clear()
    _cards[key] = card
    return card
