"""The session engine: the edit tree and its verbs (session.py), the request runner
(runner.py: store first, then the backend, then the record), results, histories, grids and
manifests. Front ends call it; it calls the store and a backend."""
