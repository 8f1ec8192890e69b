"""The running piece: the render loop and what it draws."""
import os

# pygame greets on import; the project's output stays its own.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
