"""Shared fixtures: where the public reference data lives, and skips when it or ngspice is absent."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"


def shared(*parts: str) -> Path:
    """A path under ``../shared/data``; skips the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not available: {path}")
    return path


@pytest.fixture(scope="session")
def digtime_file() -> Path:
    """The CirGPS digtime post-layout graph (a pickle: open it only through ckt.data.safe_load)."""
    return shared("parasitics", "digtime.pt")


@pytest.fixture(scope="session")
def analoggenie_dir(tmp_path_factory) -> Path:
    """The AnalogGenie dataset unpacked once per session (folder holding one folder per ID)."""
    archive = shared("analoggenie", "analoggenie-dataset.tar.gz")
    out = tmp_path_factory.mktemp("analoggenie")
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    return out / "Dataset"


@pytest.fixture(scope="session")
def image2net_dir(tmp_path_factory) -> Path:
    """The Image2Net netlists unpacked once per session (folder of ``*.txt`` dict literals)."""
    archive = shared("image2net", "image2net-netlists.tar.gz")
    out = tmp_path_factory.mktemp("image2net")
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    return out / "net"


def have_ngspice() -> bool:
    return shutil.which("ngspice") is not None


requires_ngspice = pytest.mark.skipif(not have_ngspice(), reason="ngspice is not installed")
