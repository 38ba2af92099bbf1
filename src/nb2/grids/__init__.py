"""Comparison grids: cells over axes (grid.py, cells.py), their plan before anything is sent
(plan.py), per-value summaries (summary.py), manifests and their diffs (manifests.py), and the
widgets a grid opens without importing them (frontends.py)."""
