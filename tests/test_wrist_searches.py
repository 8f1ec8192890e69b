"""The schedule of hand searches at wrists: longer waits after each miss."""
from __future__ import annotations

import pytest

from installation.tracking.hands.finder import Region
from installation.tracking.hands.searches import WristSearches


def wrist(x=100.0, side="right", person=0, size=80.0) -> Region:
    return Region(side, (x, 50.0), size, person=person)


def searches_over(schedule: WristSearches, frames: int, region_at=lambda i: wrist()) -> list[int]:
    """The frames on which the wrist is searched, every search missing."""
    searched = []
    for i in range(frames):
        region = region_at(i)
        if schedule.due(region):
            searched.append(i)
            schedule.searched(region, found=False)
        schedule.end_frame()
    return searched


def test_a_wrist_searched_in_vain_waits_longer_each_time_up_to_the_longest_wait():
    # Waits 1, 2, 4, 4, ...: searches on frames 0, 2, 5, 10, 15, 20.
    assert searches_over(WristSearches(longest_wait=4), 21) == [0, 2, 5, 10, 15, 20]
    # A longest wait of 1 searches every other frame.
    assert searches_over(WristSearches(longest_wait=1), 7) == [0, 2, 4, 6]


def test_a_hand_found_ends_the_waiting():
    schedule = WristSearches()
    for _ in range(3):
        schedule.searched(wrist(), found=False)
    schedule.searched(wrist(), found=True)
    assert schedule.due(wrist())


def test_a_wrist_is_known_by_its_person_however_far_it_jumps():
    schedule = WristSearches()
    schedule.searched(wrist(x=100), found=False)
    schedule.end_frame()
    assert not schedule.due(wrist(x=400))           # the same person's wrist, moved
    assert schedule.due(wrist(x=100, person=1))     # someone else's
    assert schedule.due(wrist(x=100, side="left"))  # the other side


def test_without_a_person_a_wrist_is_known_by_its_place():
    schedule = WristSearches()
    schedule.searched(wrist(x=100, person=-1), found=False)
    schedule.end_frame()
    assert schedule.due(wrist(x=100 + 80, person=-1))  # a square's size away: another wrist
    assert not schedule.due(wrist(x=100 + 10, person=-1))


def test_a_wrist_not_asked_about_for_a_frame_is_forgotten():
    schedule = WristSearches()
    schedule.searched(wrist(), found=False)
    schedule.end_frame()
    schedule.end_frame()  # its person left, or its hand was followed
    assert schedule.due(wrist())


def test_a_longest_wait_below_one_is_refused():
    with pytest.raises(ValueError, match="longest_wait"):
        WristSearches(longest_wait=0)
