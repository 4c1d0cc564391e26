"""Scan loading: PNG, JPEG and DICOM files into one grayscale :class:`Scan` (no Qt here)."""

from pneumonet_core.imaging.inflate import install as _bound_inflating
from pneumonet_core.imaging.loader import MAX_PIXELS, SUPPORTED_SUFFIXES, find_scans, load_scan
from pneumonet_core.imaging.scan import IDENTIFYING_KEYS, METADATA_KEYS, Scan, SourceInfo

_bound_inflating()  # before any DICOM is read: deflated data sets inflate with a planned bound

__all__ = [
    "IDENTIFYING_KEYS",
    "MAX_PIXELS",
    "METADATA_KEYS",
    "SUPPORTED_SUFFIXES",
    "Scan",
    "SourceInfo",
    "find_scans",
    "load_scan",
]
