"""Image2Net: 346 netlists extracted from schematic images, typed by their ``ckt_type``.

Each circuit is one ``net/*.txt`` file of the archive, a Python-literal dict read with
``parse_components`` (never ``eval``); its ``ckt_type`` is the label. The files carry no port list
and no source, so each circuit is its own split group, joined only with circuits of the same
topology.
"""

from __future__ import annotations

import tarfile
from pathlib import PurePosixPath

from ckt.data.base import Circuit, CircuitDataset, Failure, RawSet
from ckt.errors import CktError, DatasetError
from ckt.netlist.parse_components import parse_components

CLASSES = ("DISO-Amplifier", "SISO-Amplifier", "DIDO-Amplifier", "Comparator", "Bandgap", "LDO")
"""The six ``ckt_type`` values, most frequent first."""

ANALOGGENIE_TYPE = {
    "DISO-Amplifier": "Opamp", "SISO-Amplifier": "Opamp", "DIDO-Amplifier": "Opamp",
    "Comparator": "Comparator", "Bandgap": "Bandgap_Ref", "LDO": "LDO",
}
"""Each Image2Net type as the AnalogGenie class it falls in, for transfer between the two: AnalogToBi
files every amplifier (single-stage ones included, IDs 1-68) as ``Opamp``."""


def is_netlist_member(name: str) -> bool:
    """``.../net/*.txt``: where Image2Net keeps its netlists."""
    parts = PurePosixPath(name).parts
    return len(parts) >= 2 and parts[-2] == "net" and parts[-1].endswith(".txt")


def read_archive(path: str) -> RawSet:
    """Every ``net/*.txt`` circuit of an Image2Net archive (the project's tarball or a GitHub archive).

    A file whose ``ckt_type`` is missing or outside ``CLASSES`` is a failure with that reason.

    Raises:
        DatasetError: the file is not a readable tar archive or holds no ``net/*.txt`` file.
    """
    circuits: list[Circuit] = []
    failures: list[Failure] = []
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                if not (member.isfile() and is_netlist_member(member.name)):
                    continue
                f = tar.extractfile(member)
                assert f is not None
                cid = PurePosixPath(member.name).stem
                where = f"{path}:{member.name}"
                try:
                    netlist = parse_components(f.read().decode("utf-8", errors="replace"), path=where)
                except CktError as exc:
                    failures.append(Failure(cid, where, f"{type(exc).__name__}: {exc}"))
                    continue
                if netlist.title not in CLASSES:
                    reason = f"ckt_type {netlist.title!r} is not one of {', '.join(CLASSES)}"
                    failures.append(Failure(cid, where, reason))
                    continue
                circuits.append(Circuit(id=cid, netlist=netlist, ckt_type=netlist.title))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DatasetError(f"{path}: not a readable Image2Net archive: {exc}") from exc
    if not circuits and not failures:
        raise DatasetError(f"{path}: no Image2Net netlists (net/*.txt) in the archive")
    return RawSet(tuple(circuits), tuple(failures))


class Image2Net(CircuitDataset):
    """Image2Net circuits, ``y`` the index of their ``ckt_type`` in ``CLASSES`` (6 classes).

    See ``CircuitDataset`` for the arguments.
    """

    name = "image2net"
    archive = "image2net-netlists.tar.gz"
    upstream_repo = "https://github.com/24Hoursss/Image2Net"
    upstream_commit = "ca29c46"
    upstream_url = f"{upstream_repo}/archive/{upstream_commit}.tar.gz"
    reference_path = "image2net/image2net-netlists.tar.gz"
    classes = CLASSES
    class_aliases = ANALOGGENIE_TYPE

    @classmethod
    def keep_member(cls, name: str) -> bool:
        return is_netlist_member(name)

    def read_raw(self) -> RawSet:
        return read_archive(str(self.raw_path))
