"""AnalogGenie: 3,350 device-level analog circuits typed by AnalogToBi's ID ranges.

Each circuit is a folder ``{ID}/`` of the archive holding ``{ID}.cir`` (a Spectre-style instance list,
read with ``parse_spectre``), ``Port{ID}.txt`` (its external nets, flagged in ``is_port``) and mostly
``Pagenumber{ID}.txt`` (its source: book page or paper). Circuits from one source are variants of
one circuit (from ID 1191 on, op-amps substituted into one larger circuit), so the source text is
the split group key. ``{ID}_full.cir`` and ``Opamp{ID}.cir`` are not items of the dataset.

The type of a circuit is fixed by its ID (AnalogToBi's preprocessing, ``TYPE_RANGES``); IDs in no
range are ``General``. 2,305 files reuse an instance name for different devices: the reader keeps
every device (``NAME__2``) and the dataset warns once with the count.
"""

from __future__ import annotations

import tarfile
from pathlib import PurePosixPath

from ckt.data.base import Circuit, CircuitDataset, Failure, RawSet
from ckt.errors import CktError, DatasetError
from ckt.netlist.parse_spectre import parse_spectre

TYPE_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "Opamp": ((1, 97), (184, 355), (461, 492), (614, 621), (628, 631), (636, 639), (669, 687), (702, 725),
              (822, 833), (868, 902), (907, 914), (921, 932), (953, 1029), (1781, 2180)),
    "Mirror": ((98, 159), (604, 613), (622, 623), (834, 867)),
    "Comparator": ((632, 635), (738, 749), (1039, 1041), (1045, 1080)),
    "Mixer": ((494, 520), (1091, 1099)),
    "LDO": ((2181, 2630),),
    "Oscillator": ((403, 437), (521, 544), (640, 646), (1109, 1190)),
    "Filter": ((651, 651), (768, 788)),
    "Bandgap_Ref": ((368, 384), (624, 627), (1461, 1780)),
    "Power_Amp": ((578, 592), (1100, 1108)),
    "Voltage_Regulator": ((726, 737),),
    "Power_converter": ((1191, 1460),),
    "PLL": ((438, 440), (545, 577), (647, 650), (819, 821)),
    "Switched_Cap": ((385, 395), (750, 767), (789, 811), (1044, 1044), (2631, 3502)),
    "ADC_DAC": ((812, 818), (1042, 1043)),
}
"""Circuit type -> inclusive ID ranges (AnalogToBi, Seungmin0825/AnalogToBi @ a2ebb63a)."""

GENERAL = "General"
CLASSES = (*TYPE_RANGES, GENERAL)


def circuit_type(circuit_id: int) -> str:
    """The AnalogToBi type of AnalogGenie circuit ``circuit_id`` (``General`` outside every range)."""
    for name, ranges in TYPE_RANGES.items():
        if any(lo <= circuit_id <= hi for lo, hi in ranges):
            return name
    return GENERAL


def _role(member: str) -> tuple[str, str] | None:
    """``(ID, "cir" | "port" | "page")`` for the three files of a circuit folder, else None."""
    parts = PurePosixPath(member).parts
    if len(parts) < 2 or not parts[-2].isdigit():
        return None
    cid, name = parts[-2], parts[-1]
    roles = {f"{cid}.cir": "cir", f"Port{cid}.txt": "port", f"Pagenumber{cid}.txt": "page"}
    return (cid, roles[name]) if name in roles else None


def read_archive(path: str) -> RawSet:
    """Every circuit of an AnalogGenie archive (the project's tarball or a GitHub archive of the repo).

    Raises:
        DatasetError: the file is not a readable tar archive or holds no circuit folder.
    """
    files: dict[str, dict[str, tuple[str, bytes]]] = {}
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                role = _role(member.name) if member.isfile() else None
                if role is not None:
                    f = tar.extractfile(member)
                    assert f is not None
                    files.setdefault(role[0], {})[role[1]] = (member.name, f.read())
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DatasetError(f"{path}: not a readable AnalogGenie archive: {exc}") from exc
    circuits: list[Circuit] = []
    failures: list[Failure] = []
    for cid, parts in files.items():
        if "cir" not in parts:
            failures.append(Failure(cid, f"{path}:{cid}/", f"folder has no {cid}.cir"))
            continue
        name, raw = parts["cir"]
        where = f"{path}:{name}"
        try:
            netlist = parse_spectre(raw.decode("utf-8", errors="replace"), path=where, follow_includes=False)
        except CktError as exc:
            failures.append(Failure(cid, where, f"{type(exc).__name__}: {exc}"))
            continue
        ports = tuple(parts["port"][1].decode("utf-8", errors="replace").split()) if "port" in parts else ()
        page = " ".join(parts["page"][1].decode("utf-8", errors="replace").split()) if "page" in parts else ""
        circuits.append(Circuit(
            id=cid, netlist=netlist, ckt_type=circuit_type(int(cid)), source_key=page, ports=ports,
            renamed=sum(d.code == "duplicate-name" for d in netlist.diagnostics),
        ))
    if not circuits and not failures:
        raise DatasetError(f"{path}: no AnalogGenie circuit folders ({{ID}}/{{ID}}.cir) in the archive")
    return RawSet(tuple(circuits), tuple(failures))


class AnalogGenie(CircuitDataset):
    """AnalogGenie circuits, ``y`` the index of their AnalogToBi type in ``CLASSES`` (15 classes).

    See ``CircuitDataset`` for the arguments; the default source is the upstream repository's
    archive at the recorded commit.
    """

    name = "analoggenie"
    archive = "analoggenie-dataset.tar.gz"
    upstream_repo = "https://github.com/xz-group/AnalogGenie"
    upstream_commit = "efc2535"
    upstream_url = f"{upstream_repo}/archive/{upstream_commit}.tar.gz"
    reference_path = "analoggenie/analoggenie-dataset.tar.gz"
    classes = CLASSES

    @classmethod
    def keep_member(cls, name: str) -> bool:
        return _role(name) is not None

    def read_raw(self) -> RawSet:
        return read_archive(str(self.raw_path))
