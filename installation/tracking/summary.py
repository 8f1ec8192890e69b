"""What a tracking run saw, in figures a person can check."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from installation.types import LEFT_WRIST, RIGHT_WRIST, Frame

_WRIST = {"left": LEFT_WRIST, "right": RIGHT_WRIST}
# An id seen for fewer frames than this is a flicker of the detector (a second
# box on one body, a shadow), not a visitor; it is reported apart.
BRIEF_FRAMES = 5


@dataclass
class TrackSummary:
    """Counts over a run: frames, people, ids and hands found per id."""

    hands: bool = True  # count hands found per visible wrist
    min_wrist_visibility: float = 0.5
    frames: int = 0
    frames_with_people: int = 0
    seconds: float = 0.0  # time spent tracking (excludes opening the models)
    frames_by_id: Counter = field(default_factory=Counter)
    wrists_by_id: Counter = field(default_factory=Counter)  # visible wrists
    hands_by_id: Counter = field(default_factory=Counter)  # ... with a hand found

    def add(self, frame: Frame) -> None:
        self.frames += 1
        self.frames_with_people += bool(frame.people)
        for person in frame.people:
            self.frames_by_id[person.id] += 1
            for side, hand in (person.hands.items() if self.hands else ()):
                if person.pose[_WRIST[side], 3] >= self.min_wrist_visibility:
                    self.wrists_by_id[person.id] += 1
                    self.hands_by_id[person.id] += hand is not None

    def people_seen(self) -> int:
        """Ids that stayed at least BRIEF_FRAMES frames: visitors, not flickers."""
        return sum(count >= BRIEF_FRAMES for count in self.frames_by_id.values())

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        rate = self.frames_with_people / self.frames if self.frames else 0.0
        lines = [
            f"frames             {self.frames}",
            f"frames with people {self.frames_with_people} ({rate:.1%})",
            f"people seen        {self.people_seen()}" + (
                f" (and {len(self.frames_by_id) - self.people_seen()} brief detections "
                f"under {BRIEF_FRAMES} frames)" if len(self.frames_by_id) > self.people_seen() else ""),
            f"tracking fps       {self.fps:.1f}",
        ]
        for person_id, count in sorted(self.frames_by_id.items()):
            line = f"  #{person_id:<4} in {count} frames"
            wrists = self.wrists_by_id[person_id]
            if wrists:
                found = self.hands_by_id[person_id]
                line += f", hands found {found}/{wrists} visible wrists ({found / wrists:.0%})"
            lines.append(line)
        return lines
