"""The window of `installation calibrate`: click a marked floor point, type
where it is on the floor ("x y" in metres, Enter), and repeat.

Keys: Enter with no point waiting saves (four points or more); Backspace
with nothing typed takes back the last point; Escape drops the waiting
point, or leaves without saving. Once four points are in, a one-metre grid
of the floor is drawn over the picture: where its lines leave the floor's
real seams and tape, a point or a measurement is wrong.
"""
from __future__ import annotations

import numpy as np

from installation.errors import InstallationError
from installation.room.floor import FloorCalibration

BAR = 64  # pixels of text under the picture
MARK = (255, 60, 200)
GRID = (60, 230, 255)
TEXT = (240, 240, 240)
WARN = (255, 120, 90)


def parse_floor(text: str) -> tuple[float, float]:
    """``"x y"`` or ``"x, y"`` (metres) -> (x, y); ValueError if it is not two finite numbers."""
    parts = text.replace(",", " ").split()
    if len(parts) != 2:
        raise ValueError("type two numbers, x and y in metres, e.g. 1.5 2")
    x, y = (float(p) for p in parts)
    if not (np.isfinite(x) and np.isfinite(y)):
        raise ValueError("x and y must be finite numbers")
    return x, y


class PointPicker:
    """The state of the window: points taken, the point waiting for its
    floor position, the text being typed. Pure: events in, points out."""

    def __init__(self, picture_size: tuple[int, int]):
        self.picture_size = picture_size  # on screen, pixels
        self.points: list[tuple[float, float, float, float]] = []  # u, v, x, y
        self.waiting: tuple[float, float] | None = None
        self.typed = ""
        self.message = "Click a marked floor point."
        self.calibration: FloorCalibration | None = None
        self.saved = self.quit = False

    def handle(self, event) -> None:
        import pygame

        if event.type == pygame.QUIT:
            self.quit = True
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            x, y = event.pos
            width, height = self.picture_size
            if 0 <= x < width and 0 <= y < height:
                self.waiting = ((x + 0.5) / width, (y + 0.5) / height)
                self.typed = ""
                self.message = "Type its floor position: x y (metres), then Enter."
        elif event.type == pygame.TEXTINPUT and self.waiting is not None:
            self.typed += event.text
        elif event.type == pygame.KEYDOWN:
            self._key(event.key)

    def _key(self, key) -> None:
        import pygame

        if key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            if self.waiting is not None:
                self._enter()
            elif self.calibration is not None:
                self.saved = True
            else:
                self.message = f"{len(self.points)} points: at least 4 are needed."
        elif key == pygame.K_BACKSPACE:
            if self.typed:
                self.typed = self.typed[:-1]
            elif self.waiting is not None:
                self.waiting = None
            elif self.points:
                self.points.pop()
                self._fit()
        elif key == pygame.K_ESCAPE:
            if self.waiting is not None:
                self.waiting, self.typed = None, ""
                self.message = "Point dropped. Click a marked floor point."
            else:
                self.quit = True

    def _enter(self) -> None:
        try:
            x, y = parse_floor(self.typed)
        except ValueError as error:
            self.message = f"{error}."
            return
        self.points.append((*self.waiting, x, y))
        self.waiting, self.typed = None, ""
        self._fit()

    def _fit(self) -> None:
        self.calibration = None
        count = len(self.points)
        if count < 4:
            self.message = f"{count} point{'s' if count != 1 else ''}; {4 - count} more."
            return
        points = np.array(self.points)
        try:
            self.calibration = FloorCalibration.from_points(points[:, :2], points[:, 2:])
        except InstallationError as error:
            self.message = f"{error.what}. Backspace takes back the last point."
            return
        self.message = (f"{count} points. Check the grid lies on the floor; "
                        "Enter saves, or click more points.")

    def draw(self, screen, picture) -> None:
        import pygame

        screen.fill((0, 0, 0))
        screen.blit(picture, (0, 0))
        width, height = self.picture_size
        if self.calibration is not None:
            for a, b in _grid_lines(self.calibration):
                pygame.draw.line(screen, GRID, (a[0] * width, a[1] * height),
                                 (b[0] * width, b[1] * height), 1)
        for u, v, x, y in self.points:
            self._mark(screen, (u, v), f"{x:g} {y:g}")
        if self.waiting is not None:
            self._mark(screen, self.waiting, self.typed + "_")
        font = pygame.font.Font(None, 24)
        warn = self.message.startswith(("type", "x and", "the", "at least")) or "needed" in self.message
        screen.blit(font.render(self.message, True, WARN if warn else TEXT), (8, height + 8))
        screen.blit(font.render("Enter: save   Backspace: undo   Esc: drop point / leave",
                                True, TEXT), (8, height + 36))

    def _mark(self, screen, point, label) -> None:
        import pygame

        width, height = self.picture_size
        at = (int(point[0] * width), int(point[1] * height))
        pygame.draw.circle(screen, MARK, at, 6, 2)
        text = pygame.font.Font(None, 22).render(label, True, MARK)
        left = at[0] + 8 if at[0] + 8 + text.get_width() <= width else at[0] - 8 - text.get_width()
        screen.blit(text, (left, at[1] - 8))


def _grid_lines(calibration: FloorCalibration, reach: int = 10):
    """Picture segments of the one-metre lines of the floor that the picture sees."""
    corners = calibration.to_floor(np.array([[0, 1], [1, 1], [0.5, 0.5], [0, 0], [1, 0]], float))
    corners = corners[np.isfinite(corners).all(axis=1)]
    if len(corners) == 0:
        return []
    low = np.floor(corners.min(axis=0)).astype(int) - 1
    high = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 1, low + 2 * reach)
    lines = []
    steps = np.linspace(0, 1, 41)
    for x in range(low[0], high[0] + 1):
        lines += _segments(calibration, np.column_stack([np.full_like(steps, x),
                                                          low[1] + steps * (high[1] - low[1])]))
    for y in range(low[1], high[1] + 1):
        lines += _segments(calibration, np.column_stack([low[0] + steps * (high[0] - low[0]),
                                                          np.full_like(steps, y)]))
    return lines


def _segments(calibration: FloorCalibration, floor: np.ndarray):
    image = calibration.to_image(floor)
    ok = np.isfinite(image).all(axis=1) & (np.abs(image - 0.5) < 2).all(axis=1)
    return [(image[i], image[i + 1]) for i in range(len(image) - 1) if ok[i] and ok[i + 1]]


def pick_points(image: np.ndarray, fit: tuple[int, int], title: str) -> list | None:
    """Show ``image`` (RGB) scaled into ``fit`` and let the technician mark
    points; their (u, v, x, y) rows, or None if they left without saving."""
    import os

    # The window needs no sound: with audio left alone SDL prints no ALSA
    # lines about a missing sound card.
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    import pygame

    pygame.display.init()
    pygame.font.init()
    try:
        height, width = image.shape[:2]
        scale = min(fit[0] / width, fit[1] / height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        try:
            screen = pygame.display.set_mode((max(size[0], 480), size[1] + BAR))
        except pygame.error as error:
            raise InstallationError(f"cannot open a window ({error})", where="calibrate",
                                    fix="run it at the machine's screen, or give the points "
                                        "with --points") from None
        pygame.display.set_caption(title)
        picture = pygame.transform.smoothscale(
            pygame.image.frombuffer(np.ascontiguousarray(image).tobytes(), (width, height), "RGB"),
            size)
        pygame.key.start_text_input()
        picker = PointPicker(size)
        clock = pygame.time.Clock()
        while not (picker.saved or picker.quit):
            for event in pygame.event.get():
                picker.handle(event)
            picker.draw(screen, picture)
            pygame.display.flip()
            clock.tick(30)
        return picker.points if picker.saved else None
    finally:
        pygame.quit()
