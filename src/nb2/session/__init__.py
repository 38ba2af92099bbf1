"""The session core: the edit tree and its verbs (session.py), the request runner (runner.py:
store first, then the backend, then the record and the journal), a backend's output into the
store (outputs.py), results and histories, saved sessions (persist.py) and nb2.recover
(recover.py). It opens the rooms below it (grids, judging, other models) as its verbs:
``s.compare``, ``r.diff``, ``r.then``; they know it only by the shapes in ``nb2.shapes``."""
