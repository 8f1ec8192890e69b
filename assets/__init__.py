"""Data shipped with installation (installed as the package installation._assets).

See README.md in this folder for what each file is and where it came from.
"""
