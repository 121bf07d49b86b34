"""Tiny AnalogGenie- and Image2Net-style archives written from strings, so the loaders are tested
without the reference data."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

OPAMP_A = """\
MM0 (net1 VIN1 net3 VSS) nmos4
MM1 (VOUT1 VIN2 net3 VSS) nmos4
MM2 (net1 net1 VDD VDD) pmos4
MM3 (VOUT1 net1 VDD VDD) pmos4
MM4 (net3 VB1 VSS VSS) nmos4
"""
OPAMP_B = OPAMP_A + "CC0 (VOUT1 VSS) capacitor\n"
LDO_DUPLICATES = """\
MM1 (VOUT1 net5 VIN1 VIN1) pmos4
RR0 (VOUT1 net7) resistor
RR1 (net7 VSS) resistor
MM1 (net5 net7 VSS VSS) nmos4
"""

AG_CIRCUITS: dict[int, tuple[str, str, str | None]] = {
    5: (OPAMP_A, "VDD VSS VIN1 VIN2 VOUT1 VB1", "Book page 12"),
    6: (OPAMP_B, "VDD VSS VIN1 VIN2 VOUT1 VB1", "Book page 12"),
    2200: (LDO_DUPLICATES, "VIN1 VSS VOUT1", None),
}
"""ID -> (netlist, ports, source page or None): two variants of one page, an LDO reusing ``MM1``."""


def _add(tar: tarfile.TarFile, name: str, text: str) -> None:
    raw = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(raw)
    tar.addfile(info, io.BytesIO(raw))


def analoggenie_tar(path: Path, circuits: dict[int, tuple[str, str, str | None]] = AG_CIRCUITS,
                    prefix: str = "Dataset") -> Path:
    """An archive laid out like the AnalogGenie ``Dataset/`` folder."""
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, f"{prefix}/data_categorization.md", "# categories\n")
        for cid, (cir, ports, page) in circuits.items():
            _add(tar, f"{prefix}/{cid}/{cid}.cir", cir)
            _add(tar, f"{prefix}/{cid}/Port{cid}.txt", ports)
            if page is not None:
                _add(tar, f"{prefix}/{cid}/Pagenumber{cid}.txt", page)
            _add(tar, f"{prefix}/{cid}/Opamp{cid}.cir", "not an item\n")
    return path


I2N_AMP = repr({
    "ckt_type": "SISO-Amplifier",
    "ckt_netlist": [
        {"component_type": "NMOS", "port_connection": {"Drain": "VOUT", "Gate": "VIN", "Source": "GND"}},
        {"component_type": "Res", "port_connection": {"Pos": "VDD", "Neg": "VOUT"}},
    ],
})
I2N_BANDGAP = repr({
    "ckt_type": "Bandgap",
    "ckt_netlist": [
        {"component_type": "PNP", "port_connection": {"Collector": "GND", "Base": "GND", "Emitter": "n1"}},
        {"component_type": "Res", "port_connection": {"Pos": "VREF", "Neg": "n1"}},
        {"component_type": "Current", "port_connection": {"In": "VDD", "Out": "VREF"}},
    ],
})


def image2net_tar(path: Path, files: dict[str, str] | None = None) -> Path:
    """An archive laid out like the Image2Net ``net/`` folder (plus a file that is not a netlist)."""
    files = {"001.txt": I2N_AMP, "7_netlist_dict.txt": I2N_BANDGAP} if files is None else files
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "model/yolo/circuitType.txt", "not a netlist")
        for name, text in files.items():
            _add(tar, f"net/{name}", text)
    return path
