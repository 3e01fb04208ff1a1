"""zonage: eligibility of health structures for ARS doctor-post schemes.

Data flows one way: ``sources`` (official files, fetched from the web or a
mirror) → ``layers`` (harmonised GeoParquet in ``data/processed``) → engines →
outputs, with :mod:`zonage.cli` on top.
"""

__version__ = "0.1.0"
