"""Takes: the landmark flight recorder. io.py writes and reads take files
(JSON lines, optionally gzipped); values.py checks every number read back."""
