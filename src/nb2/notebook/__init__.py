"""Everything that knows IPython or widgets: the %%nb2 magic (magic.py, cellargs.py,
live.py) and the panel (panel.py, strip.py). It holds no generation logic: it calls the engine."""
