"""Datasets as published: the catalogue, fetching, and one parser module per dataset."""

from zonage.sources.catalogue import CATALOGUE, Source, get_source
from zonage.sources.fetch import FetchResult, fetch, raw_path

__all__ = ["CATALOGUE", "FetchResult", "Source", "fetch", "get_source", "raw_path"]
