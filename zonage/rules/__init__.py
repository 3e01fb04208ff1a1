"""Rules engine: each recruitment scheme (dispositif) is a TOML data file, not code.

* :mod:`zonage.rules.model`: typed dataclasses of a scheme and its parts, :class:`RulesError`;
* :mod:`zonage.rules.load`: :func:`load_schemes` reads the packaged rules files
  (``zonage/rules/schemes/*.toml``) plus a planner's folder of extra or overriding
  files, validating them strictly;
* :mod:`zonage.rules.evaluate`: :func:`evaluate_sites` (vectorised answer per located
  site and scheme, with reason codes and FR/EN sentences), reading the site facts of
  :mod:`zonage.rules.facts` and the wording of :mod:`zonage.rules.wording`;
* :mod:`zonage.rules.application`: :func:`check_application` (every condition of one
  application met, failed or to check, and the funding);
* :mod:`zonage.rules.coerce`: raw values (dates, codes, numbers) into arrays;
* :mod:`zonage.rules.kinds` and :mod:`zonage.rules.deficits`: structure kinds, deficit zones.
"""

from zonage.rules.application import ApplicationVerdict, Finding, FundingResult, check_application
from zonage.rules.evaluate import OUTPUT_COLUMNS, evaluate_sites
from zonage.rules.load import load_schemes, packaged_dir, select_schemes
from zonage.rules.model import RulesError, Scheme

__all__ = [
    "OUTPUT_COLUMNS",
    "ApplicationVerdict",
    "Finding",
    "FundingResult",
    "RulesError",
    "Scheme",
    "check_application",
    "evaluate_sites",
    "load_schemes",
    "packaged_dir",
    "select_schemes",
]
