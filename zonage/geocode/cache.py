"""A local SQLite cache of geocoding answers, so that a re-run sends nothing again.

Entries are keyed by the backend's :attr:`~zonage.geocode.base.Geocoder.cache_key`
(backend and data source, e.g. ``ban:https://…`` or ``addok:http://127.0.0.1:7878``)
and the cleaned query; "not found" is cached too. Re-indexing a local addok clears
its entries (:meth:`GeocodeCache.clear`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from zonage.geocode.base import Match

__all__ = ["MISSING", "GeocodeCache"]

#: Returned by :meth:`GeocodeCache.get_many` for queries never asked.
MISSING = object()
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    backend TEXT NOT NULL,
    query TEXT NOT NULL,
    result TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (backend, query)
)
"""


class GeocodeCache:
    """Answers already received, per backend and query.

    Parameters
    ----------
    path
        SQLite file (created with its folder), e.g. ``data/cache/geocode.sqlite``;
        ``":memory:"`` for a cache that lives as long as the object.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = path if str(path) == ":memory:" else Path(path)
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get_many(self, backend: str, keys: Sequence[str]) -> list[object]:
        """For each key: a :class:`Match`, None (cached "not found") or :data:`MISSING`."""
        found: dict[str, str | None] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            part = unique[start:start + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(f"SELECT query, result FROM answers WHERE backend = ? AND query IN ({marks})",
                                    [backend, *part])
            found.update(dict(rows.fetchall()))
        out: list[object] = []
        for key in keys:
            if key not in found:
                out.append(MISSING)
            else:
                text = found[key]
                out.append(None if text is None else Match.from_dict(json.loads(text)))
        return out

    def put_many(self, backend: str, items: Iterable[tuple[str, Match | None]]) -> None:
        """Store answers (one transaction)."""
        now = time.time()
        rows = [(backend, key, None if m is None else json.dumps(m.to_dict(), ensure_ascii=False), now)
                for key, m in items]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)", rows)

    def clear(self, backend_prefix: str = "") -> int:
        """Delete the entries of backends whose key starts with ``backend_prefix`` (all by default)."""
        with self._db:
            cursor = self._db.execute("DELETE FROM answers WHERE substr(backend, 1, ?) = ?",
                                      (len(backend_prefix), backend_prefix))
        return cursor.rowcount

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> GeocodeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
