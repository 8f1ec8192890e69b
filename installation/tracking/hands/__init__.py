"""Hands: where to look (planner.py, from the last frames), the palm search
at a wrist (palm_detector.py, searches.py) and the hand landmark model on
each crop (finder.py)."""
