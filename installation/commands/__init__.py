"""One module per `installation` command.

Each module has ``add_parser(commands)``, which adds its sub-parser and sets
``handler`` to the function that runs it. ``installation.cli`` lists the
modules in the order ``--help`` shows them. Handlers return the exit status;
a user's mistake is raised as an InstallationError and printed by the CLI.
Options several commands share (a profile, ``--set``, ``--models``,
``--seconds``) are written once in options.py.
"""
