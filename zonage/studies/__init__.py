"""Studies: where the engines meet the data folder.

Engines (:mod:`zonage.locate`, :mod:`zonage.rules`, :mod:`zonage.eligibility`,
:mod:`zonage.geocode`, :mod:`zonage.access`, :mod:`zonage.priority`) take and return
DataFrames and read no layer. A study reads
the layers a question needs from a data folder (``Paths``), chains the engines over a
région or the country, and returns tables; it writes nothing (the outputs and the command
line do):

* :mod:`zonage.studies.eligibility`: a région's FINESS centres de santé, MSP and hospitals,
  the batch context (locator, FINESS, crosswalk), the main job of ``zonage run``, one
  application file checked;
* :mod:`zonage.studies.check`: one address or point (``zonage check``), read light;
* :mod:`zonage.studies.locators`: the locator and the commune geocoder, from the layers;
* :mod:`zonage.studies.geocoding`: the geocoder a command uses (local addok, else the
  commune fallback with its hint);
* :mod:`zonage.studies.territories`: the inputs of the territory scores and the zoning
  simulation;
* :mod:`zonage.studies.access`: the national commune-level accessibility run, the grid run,
  the comparison with the DREES APL;
* :mod:`zonage.studies.prioritisation`: where N posts help most in a région, judged out of
  model.
"""
