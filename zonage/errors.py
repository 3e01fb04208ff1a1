"""Exceptions raised for problems the user can fix (shown without a traceback)."""

from __future__ import annotations


class ZonageError(Exception):
    """Base class of every error meant for the user, with a one-line message."""


class MissingSourceError(ZonageError):
    """A source file is neither in ``data/raw``, nor in the mirror, nor downloaded."""


class ChecksumError(ZonageError):
    """A file's sha256 differs from the one the catalogue expects."""


class SourceFormatError(ZonageError):
    """A source file does not have the structure its parser expects."""


class LayerMissingError(ZonageError):
    """A processed layer was asked for before ``zonage build`` produced it."""


class InputDataError(ZonageError):
    """User input (a CSV, a coordinate column…) is malformed; names the row and field."""
