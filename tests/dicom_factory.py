"""Make DICOM files for tests from real images or arrays, with pydicom.

The pixel values are written exactly as given (the test does the arithmetic: an
inversion for MONOCHROME1, a scale for 16 bits), so what a test expects is visible in
the test. Compressed files are encoded with pydicom's own encoders where it has one
(RLE, JPEG 2000 through pylibjpeg-openjpeg) and JPEG Baseline by encapsulating a
Pillow-encoded JPEG, which is how such files are made in practice.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

#: Header of a chest radiograph like the training images (child of 3, AP, CR).
CHEST_DEFAULTS = {
    "Modality": "CR",
    "BodyPartExamined": "CHEST",
    "ViewPosition": "AP",
    "PatientName": "Test^Child",
    "PatientID": "PNT-0001",
    "PatientBirthDate": "20210301",
    "PatientAge": "003Y",
    "PatientSex": "F",
    "StudyDate": "20240315",
    "Manufacturer": "Pneumonet test factory",
}

_NATIVE = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian)
_TRANSFORM_OPTIONS = {"rescale", "window", "voi_function", "voi_lut"}
_counter = itertools.count()


def make_dicom_from_image(source, tmp_path: Path, **options) -> Path:
    """Write a DICOM file into ``tmp_path`` and return its path.

    ``source`` is an image file (read as Pillow "L", 8-bit), a 2-D array (H, W) or a
    3-D RGB array (H, W, 3) of uint8/uint16/int16, or a list of such arrays for a
    multi-frame file. Options:

    - ``transfer_syntax``: a pydicom UID (Explicit VR Little Endian by default).
    - ``photometric``: "MONOCHROME2" (default for 2-D), "MONOCHROME1", "RGB" (3-D).
    - ``bits_stored``: below the array's bit depth to test BitsStored < BitsAllocated.
    - ``rescale``: (slope, intercept); ``window``: (centre, width) or a list of them;
      ``voi_function``: "LINEAR", "LINEAR_EXACT" or "SIGMOID"; ``voi_lut``:
      (first_mapped, lut_values uint8/uint16 array) for a VOI LUT Sequence.
    - header keywords (``Modality``, ``PatientAge``, ...) override CHEST_DEFAULTS; a
      value of None leaves the element out.
    - ``preamble``: False writes a bare dataset without preamble and file meta.
    - ``name``: file name (unique by default).
    """
    frames = _frames(source)
    first = frames[0]
    syntax = UID(options.pop("transfer_syntax", ExplicitVRLittleEndian))
    photometric = options.pop("photometric", "RGB" if first.ndim == 3 else "MONOCHROME2")
    bits_allocated = first.dtype.itemsize * 8
    bits_stored = options.pop("bits_stored", bits_allocated)
    preamble = options.pop("preamble", True)
    name = options.pop("name", f"made_{next(_counter)}.dcm")

    unknown = {key for key in options if not key[:1].isupper()} - _TRANSFORM_OPTIONS
    if unknown:
        raise TypeError(f"unknown make_dicom_from_image options: {sorted(unknown)}")

    ds = Dataset()
    sop_class = DX_IMAGE_STORAGE if options.get("Modality") == "DX" else CR_IMAGE_STORAGE
    ds.SOPClassUID = options.pop("SOPClassUID", sop_class)
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    header = {**CHEST_DEFAULTS, **{k: v for k, v in options.items() if k[:1].isupper()}}
    for keyword, value in header.items():
        if value is not None:
            setattr(ds, keyword, value)
    ds.Rows, ds.Columns = first.shape[:2]
    ds.SamplesPerPixel = 3 if first.ndim == 3 else 1
    if first.ndim == 3:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if first.dtype.kind == "i" else 0
    if len(frames) > 1:
        ds.NumberOfFrames = len(frames)
    _add_grayscale_transforms(ds, options)

    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = syntax
    _set_pixel_data(ds, frames, syntax)

    path = Path(tmp_path) / name
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:
        del ds.file_meta
        ds.save_as(
            path, enforce_file_format=False, implicit_vr=syntax.is_implicit_VR, little_endian=syntax.is_little_endian
        )
    return path


def _frames(source) -> list[np.ndarray]:
    if isinstance(source, (list, tuple)):
        return [np.ascontiguousarray(frame) for frame in source]
    if isinstance(source, (str, Path)):
        with Image.open(source) as image:
            return [np.asarray(image.convert("L"))]
    return [np.ascontiguousarray(source)]


def _add_grayscale_transforms(ds: Dataset, options: dict) -> None:
    if "rescale" in options:
        ds.RescaleSlope, ds.RescaleIntercept = (f"{value:g}" for value in options["rescale"])
    if "window" in options:
        windows = options["window"]
        windows = [windows] if isinstance(windows, tuple) else windows
        ds.WindowCenter = [f"{centre:g}" for centre, _ in windows]
        ds.WindowWidth = [f"{width:g}" for _, width in windows]
    if "voi_function" in options:
        ds.VOILUTFunction = options["voi_function"]
    if "voi_lut" in options:
        first_mapped, values = options["voi_lut"]
        values = np.asarray(values)
        item = Dataset()
        item.add_new("LUTDescriptor", "US", [len(values) % 65536, first_mapped, values.dtype.itemsize * 8])
        item.add_new("LUTData", "US", [int(value) for value in values])
        ds.VOILUTSequence = [item]


def _set_pixel_data(ds: Dataset, frames: list[np.ndarray], syntax: UID) -> None:
    if syntax in _NATIVE:
        array = np.stack(frames) if len(frames) > 1 else frames[0]
        if syntax == ExplicitVRBigEndian:
            array = array.astype(array.dtype.newbyteorder(">"))
        ds.PixelData = array.tobytes()
        ds["PixelData"].VR = "OB" if ds.BitsAllocated <= 8 else "OW"
    elif syntax in (RLELossless, JPEG2000Lossless):
        ds.compress(syntax, np.stack(frames) if len(frames) > 1 else frames[0], generate_instance_uid=False)
    elif syntax == JPEGBaseline8Bit:
        encoded = []
        for frame in frames:
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, "JPEG", quality=95)
            encoded.append(buffer.getvalue())
        ds.PixelData = encapsulate(encoded)
        ds["PixelData"].VR = "OB"
        if frames[0].ndim == 3:
            ds.PhotometricInterpretation = "YBR_FULL_422"  # what Pillow's JPEG encoder stores
    else:
        raise ValueError(f"no encoder in the test factory for {syntax.name}")
