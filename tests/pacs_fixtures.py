"""Fixtures of the PACS tests (imported by the test_pacs_* modules): a tiny model, the
loaded classifier, one Orthanc per module, and chest DICOMs to send."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from pydicom.uid import JPEG2000Lossless

from tests.dicom_factory import make_dicom_from_image
from tests.helpers import make_tiny_model
from tests.pacs_servers import Orthanc

_counter = itertools.count()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("pacs-model") / "tiny.pneumonet")


@pytest.fixture(scope="module")
def classifier(tiny_model):
    from pneumonet_core.inference.classifier import Classifier

    return Classifier.load(tiny_model)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    server = Orthanc(tmp_path_factory.mktemp("orthanc")).start()
    yield server
    server.stop()


@pytest.fixture
def chest_dicom(shared_train_dir, tmp_path):
    """``chest_dicom(image=0, **header) -> Path``: a chest CR made from the ``image``-th NORMAL
    training JPEG, with new UIDs each time."""
    images = sorted((shared_train_dir / "NORMAL").glob("*.jpeg"))[:4]

    def make(image: int = 0, **header) -> Path:
        n = next(_counter)
        options = {"PatientID": f"PNT-{n:04d}", "AccessionNumber": f"ACC{n:05d}", "StudyID": "1",
                   "StudyTime": "101500", "ReferringPhysicianName": "", **header}
        return make_dicom_from_image(images[image], tmp_path, **options)

    return make


@pytest.fixture
def chest_jpeg2000(chest_dicom):
    """A JPEG 2000 (lossless) chest CR."""
    return lambda **header: chest_dicom(transfer_syntax=JPEG2000Lossless, **header)
