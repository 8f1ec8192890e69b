"""`installation bench`: how fast the piece answers, measured.

- loops.py runs the plain sequential loop (read a frame, pose, hands,
  draw, repeat) and the real pipeline (capture, tracking and render loop
  on their own threads, hands beside pose) on the same source at the same
  size, each in a process of its own so CPU and peak memory are its own.
- budgets.py checks the per-frame budgets: mapper predict and each
  built-in scene's draw.
- report.py turns the figures into the table the command prints.

A benchmark, not a test: the figures depend on the machine and on what
else runs on it. The test suite only checks that it runs and reports.
"""
