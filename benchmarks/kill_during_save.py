"""Kill -9 a process while it saves a mapper project, again and again, and
check that nothing saved is ever lost and no file is ever torn.

    python benchmarks/kill_during_save.py [ROUNDS]     # 48 by default

Each round starts a saver that adds 200 examples, trains and saves in a loop,
lets it finish one save, kills it at a random moment (0-0.4 s later) and
loads the project: every save that finished must be there (the one under
way may or may not be), and every file must read. Prints one line a round
and a summary; exit status 1 if anything was lost.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from installation.mapping import ClassifierOutput, Project

SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    from installation.mapping import Project
    project = Project.load(sys.argv[1])
    rng = np.random.default_rng(int(sys.argv[2]))
    while True:
        take = project.next_take()
        for _ in range(200):
            project.add_example(take, rng.normal(size=8), {"m": 1 + take % 2})
        project.train()
        project.save()
        print(len(project.examples), flush=True)
""")


def main(rounds: int = 48) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "p"
        Project([ClassifierOutput("m", model="forest")],
                inputs=tuple(f"x{i}" for i in range(8)), path=folder).save()
        script = Path(tmp) / "saver.py"
        script.write_text(SAVER)
        rng = np.random.default_rng(48)
        lost = 0
        for round_ in range(1, rounds + 1):
            proc = subprocess.Popen([sys.executable, str(script), str(folder), str(round_)],
                                    stdout=subprocess.PIPE, text=True)
            saved = [int(proc.stdout.readline())]
            time.sleep(float(rng.uniform(0.0, 0.4)))
            proc.send_signal(signal.SIGKILL)
            rest, _ = proc.communicate(timeout=60)
            saved += [int(v) for v in rest.split()]
            n = len(Project.load(folder).examples)
            whole = n in (saved[-1], saved[-1] + 200)
            lost += not whole
            print(f"round {round_:2d}: {len(saved)} save(s) finished, last with {saved[-1]} "
                  f"examples; after the kill the project holds {n}: "
                  f"{'nothing lost' if whole else 'LOST'}", flush=True)
        print(f"{rounds - lost} of {rounds} kills lost nothing")
        return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 48))
