"""From pictures to people: the tracker (tracker.py) runs pose (pose/) and
hands (hands/) through one LiteRT runner (litert.py; ssd.py holds what the two
detectors share); identity.py keeps person ids stable, smoothing.py filters
the landmarks, pipeline.py chains the three, worker.py runs them on a thread
of their own. landmarkers.py is MediaPipe's own path, kept for comparison."""
