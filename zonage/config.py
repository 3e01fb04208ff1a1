"""Where things live: the mirror folder, ``data/raw`` and ``data/processed``.

The mirror is chosen by, in order: an explicit argument, the ``ZONAGE_MIRROR``
environment variable. The data folder (holding ``raw/`` and ``processed/``) is
``ZONAGE_DATA`` or ``./data``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MIRROR_ENV = "ZONAGE_MIRROR"
DATA_ENV = "ZONAGE_DATA"


@dataclass(frozen=True)
class Paths:
    """The folders one run works with."""

    data: Path
    mirror: Path | None = None

    @property
    def raw(self) -> Path:
        """Fetched source files, exactly as published (checksummed)."""
        return self.data / "raw"

    @property
    def processed(self) -> Path:
        """Harmonised layers (GeoParquet) and the build manifest."""
        return self.data / "processed"


def resolve_paths(data: str | Path | None = None, mirror: str | Path | None = None) -> Paths:
    """Return the folders from arguments, falling back on the environment.

    Parameters
    ----------
    data
        Folder holding ``raw/`` and ``processed/``; default ``$ZONAGE_DATA`` or ``./data``.
    mirror
        Folder mirroring the official files; default ``$ZONAGE_MIRROR`` (may be unset).
    """
    data_dir = Path(data or os.environ.get(DATA_ENV) or "data")
    mirror_value = mirror or os.environ.get(MIRROR_ENV)
    return Paths(data=data_dir, mirror=Path(mirror_value) if mirror_value else None)
