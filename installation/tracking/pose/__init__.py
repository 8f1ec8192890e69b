"""Bodies: the pose detector finds people, the pose landmark model reads each
one on its own region, and the pose tracker follows them frame to frame
(with an optional body mask each)."""
