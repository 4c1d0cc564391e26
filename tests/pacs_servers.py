"""Real DICOM software for the PACS tests: Orthanc, dcmtk's SCUs and dicom3tools' dciodvfy.

Every server is started by the test that needs it on 127.0.0.1 (free ports, its own
temporary configuration and storage) and stopped at teardown. Orthanc 1.10 cannot bind
to one address, so its configuration refuses every remote peer instead: HTTP only from
this machine, DICOM only from the AE titles registered here with host 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ORTHANC_AE = "ORTHANCTEST"
#: AE titles Orthanc accepts (from 127.0.0.1 only): the listener, pull, and dcmtk's default.
KNOWN_AES = ("PNEUMONET", "PNEUTEST", "STORESCU", "FINDSCU", "ECHOSCU")


def tool(name: str) -> str:
    """Path of a command-line tool, or fail with how to install it."""
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not path:
        pytest.fail(f"{name} not found: run tools/install.sh (apt packages orthanc, dcmtk, dicom3tools)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {port}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


class Orthanc:
    """One Orthanc server on loopback with a temporary configuration and storage folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.dicom_port, self.http_port = free_port(), free_port()
        self.ae_title = ORTHANC_AE
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def peer_text(self) -> str:
        return f"127.0.0.1:{self.dicom_port}:{self.ae_title}"

    def config(self) -> dict:
        modalities = {ae.lower(): {"AET": ae, "Host": "127.0.0.1", "Port": 104, "AllowEcho": True, "AllowFind": True,
                                   "AllowGet": True, "AllowMove": False, "AllowStore": True} for ae in KNOWN_AES}
        return {
            "Name": "pneumonet-test-orthanc", "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "index"), "Plugins": [], "LuaScripts": [],
            "HttpPort": self.http_port, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
            "DicomServerEnabled": True, "DicomAet": self.ae_title, "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": True, "DicomCheckModalityHost": True, "DicomModalities": modalities,
            "DicomAlwaysAllowEcho": False, "DicomAlwaysAllowStore": False, "DicomAlwaysAllowFind": False,
            "DicomAlwaysAllowGet": False, "DicomAlwaysAllowMove": False,
            "StorageCompression": False, "SaveJobs": False, "ConcurrentJobs": 1, "HttpThreadsCount": 4,
            "DicomThreadsCount": 2, "StableAge": 1, "DicomAssociationCloseDelay": 0,
        }

    def start(self) -> Orthanc:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "orthanc.json"
        config.write_text(json.dumps(self.config(), indent=1))
        self._log = open(self.folder / "orthanc.log", "wb")
        self.process = subprocess.Popen([tool("Orthanc"), str(config)], stdout=self._log, stderr=subprocess.STDOUT)
        wait_for_port(self.http_port, process=self.process)
        wait_for_port(self.dicom_port, process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def rest(self, path: str, data: bytes | None = None):
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data,
                                         method="POST" if data is not None else "GET")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def upload(self, path: Path) -> dict:
        return self.rest("/instances", Path(path).read_bytes())

    def instances_of_study(self, study_uid: str) -> list[dict]:
        """The simplified tags of every instance Orthanc holds in this study."""
        found = self.rest("/tools/find", json.dumps({"Level": "Instance", "Query": {"StudyInstanceUID": study_uid},
                                                     "Expand": False}).encode())
        return [self.rest(f"/instances/{oid}/simplified-tags") for oid in found]

    def wait_for_instances(self, study_uid: str, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            tags = self.instances_of_study(study_uid)
            if len(tags) >= count or time.monotonic() > deadline:
                return tags
            time.sleep(0.1)


def dciodvfy_errors(path: Path) -> list[str]:
    """dciodvfy's error lines for a file (warnings are allowed)."""
    run = subprocess.run([tool("dciodvfy"), str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")]


def storescu(port: int, *files: Path, called_ae: str = "PNEUMONET", extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """dcmtk's storescu: send ``files`` (JPEG 2000 proposed as well as uncompressed)."""
    return subprocess.run([tool("storescu"), "-xv", *extra, "-aec", called_ae, "127.0.0.1", str(port),
                           *map(str, files)], capture_output=True, text=True, timeout=60)


def echoscu(port: int, called_ae: str = "PNEUMONET") -> subprocess.CompletedProcess:
    return subprocess.run([tool("echoscu"), "-aec", called_ae, "127.0.0.1", str(port)],
                          capture_output=True, text=True, timeout=30)


class EventLog:
    """Collects a listener's events; ``wait(predicate)`` blocks until they satisfy it."""

    def __init__(self):
        self.events: list = []
        self._cond = threading.Condition()

    def __call__(self, event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, kind: str) -> list:
        with self._cond:
            return [e for e in self.events if e.kind == kind]

    def wait(self, predicate, timeout: float = 60.0) -> list:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.events), timeout):
                kinds = [(e.kind, e.key, e.reason) for e in self.events]
                raise AssertionError(f"timed out waiting for listener events; got {kinds}")
            return list(self.events)

    def wait_for(self, kind: str, key: str | None = None, count: int = 1, timeout: float = 60.0) -> list:
        self.wait(lambda events: len([e for e in events if e.kind == kind and key in (None, e.key)]) >= count, timeout)
        return [e for e in self.of(kind) if key in (None, e.key)]
