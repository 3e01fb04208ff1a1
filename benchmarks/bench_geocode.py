"""Local geocoding speed and accuracy on the real BANO sample (figures for BENCHMARKS.md).

Usage: ``ZONAGE_MIRROR=../shared/data python benchmarks/bench_geocode.py [--repeat 3]``
(needs ``redis-server`` and the ``geocode`` extra).

Starts a real ``redis-server`` and addok's HTTP API on free ports of 127.0.0.1, indexes the
2,001 BANO addresses of ``addresses/bano_correze_sample.csv`` (read in place from the mirror),
then geocodes them back: cold (nothing cached), cached (SQLite cache, nothing sent), and addok
called in process (no HTTP). Correctness is asserted by ``tests/test_geocode.py``; this script
only measures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from zonage.geocode import GeocodeCache, Geocoding, geocode_frame

SAMPLE = "addresses/bano_correze_sample.csv"
BANO = ["id", "housenumber", "street", "postcode", "city", "source", "lat", "lon"]


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance (m)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * np.arcsin(np.sqrt(h))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from zonage.geocode.addok import (
        AddokGeocoder,
        AddokInProcess,
        AddokServer,
        RedisServer,
        index_addresses,
        write_config,
    )

    mirror = Path(os.environ.get("ZONAGE_MIRROR", "../shared/data"))
    bano = pd.read_csv(mirror / SAMPLE, header=None, names=BANO, dtype=str, keep_default_na=False)
    frame = pd.DataFrame({"adresse": bano["housenumber"] + " " + bano["street"], "code_postal": bano["postcode"],
                          "ville": bano["city"]})
    figures: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            redis = RedisServer(folder)
            server = None
            try:
                redis.start()
                config = write_config(folder / "addok.conf", redis_port=redis.port)
                start = time.perf_counter()
                index_addresses([mirror / SAMPLE], config)
                figures.setdefault("index_s", []).append(time.perf_counter() - start)
                server = AddokServer(config).start()
                with GeocodeCache(folder / "geocode.sqlite") as cache:
                    geocoding = Geocoding(AddokGeocoder(server.url), cache)
                    start = time.perf_counter()
                    geo = geocode_frame(frame, geocoding)
                    figures.setdefault("cold_per_s", []).append(len(frame) / (time.perf_counter() - start))
                    start = time.perf_counter()
                    geocode_frame(frame, geocoding)
                    figures.setdefault("cached_per_s", []).append(len(frame) / (time.perf_counter() - start))
                start = time.perf_counter()
                geocode_frame(frame.head(200), AddokInProcess(config))
                figures.setdefault("in_process_per_s", []).append(200 / (time.perf_counter() - start))
                within = metres(geo["geo_lon"], geo["geo_lat"], bano["lon"], bano["lat"]) < 50
                figures.setdefault("within_50m", []).append(float(within.mean()))
            finally:
                if server is not None:
                    server.stop()
                redis.stop()
    print(json.dumps({k: {"min": round(min(v), 3), "median": round(statistics.median(v), 3), "max": round(max(v), 3)}
                      for k, v in figures.items()}, indent=1))


if __name__ == "__main__":
    main()
