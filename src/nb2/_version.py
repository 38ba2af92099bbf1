"""The version, from one source of truth: the installed distribution's metadata (pyproject)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nb2")
except PackageNotFoundError:  # a source tree on sys.path without an install
    __version__ = "0+unknown"
