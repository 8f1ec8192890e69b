"""The built-in scenes (installed as the package installation._scenes).

Each file holds one Scene subclass; installation.scenes.discovery loads them
by file, so this package is only how a wheel carries the folder.
"""
