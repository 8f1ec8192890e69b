"""The room's floor: a camera's picture-to-floor calibration, learning it from
one walker, a measured rig's true calibration, and the people of several
cameras merged into one room."""
