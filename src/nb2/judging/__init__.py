"""Judging images: blind pairwise duels (duel.py) ranked by Bradley-Terry (bradley_terry.py),
and what changed between two images (diff.py). Ratings are records in the store
(``nb2.store.judgments``)."""
