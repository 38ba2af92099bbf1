"""The archive of runs: finding them across sessions (find.py: the run index, spend by model and
month) and moving them between stores (bundle.py: export and import with checked hashes)."""
