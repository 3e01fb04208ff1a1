"""Studies: where the engines meet the data folder.

Engines (:mod:`zonage.locate`, :mod:`zonage.rules`, :mod:`zonage.eligibility`,
:mod:`zonage.access`, :mod:`zonage.priority`) take and return DataFrames. A study reads
the layers a question needs from a data folder (``Paths``), chains the engines over a
région or the country, and returns tables; it writes nothing (the outputs and the command
line do):

* :mod:`zonage.studies.eligibility`: a région's FINESS centres de santé, MSP and hospitals,
  the batch context (locator, FINESS, crosswalk), the main job of ``zonage run``;
* :mod:`zonage.studies.access`: the national commune-level accessibility run, the grid run,
  the comparison with the DREES APL;
* :mod:`zonage.studies.prioritisation`: where N posts help most in a région, judged out of
  model.
"""
