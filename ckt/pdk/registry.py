"""The registry of bundled PDK model sets: which files a technology needs, its device names and units.

Every PDK here is a plain description (``Pdk``) of files under ``pdk_models/`` at the repository root
(override the folder with ``$CKT_PDK_MODELS``). Nothing is parsed or simulated here; ``ckt.pdk.bind``
uses these descriptions to turn generic ``nmos4``/``pmos4`` devices into a technology's devices.

Choices worth knowing (each checked with ngspice 39, see ``pdk_models/README.md``):

* PTM cards define ``nmos``/``pmos`` models in metres; they have no corners.
* sky130 devices are subcircuits whose library sets ``.option scale=1.0u``: W and L are microns.
  The bundled subset has only the typical (``tt``) corner.
* gf180 is bound to its BSIM4 *models* ``nmos_3p3``/``pmos_3p3`` (M devices), not to the
  ``nmos_3p3`` wrapper subcircuits: the wrappers add random mismatch on every run (the library's
  default ``sw_stat_mismatch=1``) and ignore an instance's ``m=``, while the models are deterministic
  and honour ``m``. The corner sections (``typical``, ``ff``...) come from ``sm141064.ngspice``.
  Its ``set ngbehavior=hs`` is kept in ``spice_options``: ngspice reads it only before a deck is
  loaded (``.spiceinit``, ``ngspice -D ngbehavior=hs``, or a shared-library ``set`` command first);
  an ``.options ngbehavior=hs`` line in the deck has no effect.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from ckt.errors import PdkError
from ckt.netlist.ir import Include

ENV_VAR = "CKT_PDK_MODELS"


def models_root() -> Path:
    """The folder holding the model files: ``$CKT_PDK_MODELS`` or ``pdk_models/`` beside ``ckt/``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[2] / "pdk_models"


@dataclass(frozen=True)
class Pdk:
    """One technology's model set and how to instantiate its transistors.

    Attributes:
        name: registry key (``ptm45``, ``sky130``...).
        description: one line for listings.
        node_nm: the technology node, nanometres.
        vdd: nominal supply, volts.
        files: every model file the PDK needs (absolute paths).
        nmos, pmos: the device name a generic ``nmos4``/``pmos4`` becomes.
        device_style: ``model`` (an M device naming a ``.model``) or ``subckt`` (an X instance).
        length_unit: metres per unit of the PDK's W/L (1e-6 where the library sets ``scale=1u``).
        spice_options: ngspice ``set`` commands that must run before the deck is loaded.
        corners: corner name -> the includes (file and ``.lib`` section) that select it; empty
            when the model set has a single, unnamed corner.
        default_corner: the corner used when none is asked for (None when ``corners`` is empty).
        temperature: default simulation temperature, Celsius.
        mismatch_param: the ``.param`` that switches the model cards' random device mismatch on
            (``1``), None when the models carry none (``ckt.sim.montecarlo``).
    """

    name: str
    description: str
    node_nm: float
    vdd: float
    files: tuple[Path, ...]
    nmos: str
    pmos: str
    device_style: Literal["model", "subckt"] = "model"
    length_unit: float = 1.0
    spice_options: tuple[str, ...] = ()
    corners: Mapping[str, tuple[Include, ...]] = field(default_factory=dict, hash=False)
    default_corner: str | None = None
    temperature: float = 27.0
    mismatch_param: str | None = None

    def includes(self, corner: str | None = None) -> tuple[Include, ...]:
        """The ``Include`` entries a deck needs for ``corner`` (the default one when None)."""
        if not self.corners:
            if corner is not None:
                raise PdkError(f"PDK {self.name} has no corners (asked for {corner!r})")
            return tuple(Include(str(f)) for f in self.files)
        key = corner or self.default_corner
        if key is None or key not in self.corners:
            raise PdkError(f"PDK {self.name} has no corner {key!r} (known: {', '.join(self.corners)})")
        return self.corners[key]

    def missing_files(self) -> list[Path]:
        return [f for f in self.files if not f.is_file()]


def _ptm(name: str, file: str, node: float, vdd: float, what: str, upper: bool = False) -> Pdk:
    root = models_root() / "ptm"
    return Pdk(
        name=name,
        description=f"PTM {what} ({'BSIM3' if node >= 180 else 'BSIM4'}), {vdd:g} V",
        node_nm=node,
        vdd=vdd,
        files=(root / file,),
        nmos="NMOS" if upper else "nmos",
        pmos="PMOS" if upper else "pmos",
    )


def _build() -> dict[str, Pdk]:
    root = models_root()
    sky = root / "sky130_min_tt"
    gf = root / "gf180"
    gf_lib = gf / "sm141064.ngspice"
    pdks = [
        _ptm("ptm180", "ptm180nm_bsim3.pm", 180, 1.8, "180 nm bulk", upper=True),
        _ptm("ptm130", "ptm130nm_bulk.pm", 130, 1.3, "130 nm bulk"),
        _ptm("ptm90", "ptm90nm_bulk.pm", 90, 1.2, "90 nm bulk"),
        _ptm("ptm65", "ptm65nm_bulk.pm", 65, 1.1, "65 nm bulk"),
        _ptm("ptm45", "ptm45nm_bulk_autockt.txt", 45, 1.2, "45 nm bulk (the AutoCkt card)"),
        _ptm("ptm45hk", "ptm45nm_hkmg_TDC.pm", 45, 1.0, "45 nm metal-gate high-k"),
        _ptm("ptm32", "ptm32nm_bulk.pm", 32, 0.9, "32 nm bulk"),
        _ptm("ptm22", "ptm22nm_hkmg_TDC.pm", 22, 0.8, "22 nm metal-gate high-k"),
        Pdk(
            name="sky130",
            description="SkyWater 130 nm, 1.8 V devices, typical-corner subset",
            node_nm=130,
            vdd=1.8,
            files=tuple(sky / f for f in (
                "sky130_min_tt.lib.spice",
                "lod.spice",
                "sky130_fd_pr__nfet_01v8__tt.pm3.spice",
                "sky130_fd_pr__nfet_01v8__mismatch.corner.spice",
                "sky130_fd_pr__pfet_01v8__tt.corner.spice",
                "sky130_fd_pr__pfet_01v8__tt.pm3.spice",
                "sky130_fd_pr__pfet_01v8__mismatch.corner.spice",
            )),
            nmos="sky130_fd_pr__nfet_01v8",
            pmos="sky130_fd_pr__pfet_01v8",
            device_style="subckt",
            length_unit=1e-6,
            corners=MappingProxyType({"tt": (Include(str(sky / "sky130_min_tt.lib.spice")),)}),
            default_corner="tt",
            mismatch_param="mc_mm_switch",
        ),
        Pdk(
            name="gf180",
            description="GlobalFoundries 180 nm MCU, 3.3 V devices",
            node_nm=180,
            vdd=3.3,
            files=(gf / "design.ngspice", gf_lib),
            nmos="nmos_3p3",
            pmos="pmos_3p3",
            spice_options=("set ngbehavior=hs",),
            corners=MappingProxyType({
                c: (Include(str(gf / "design.ngspice")), Include(str(gf_lib), section=c))
                for c in ("typical", "ff", "ss", "fs", "sf")
            }),
            default_corner="typical",
        ),
    ]
    return {p.name: p for p in pdks}


def list_pdks() -> list[Pdk]:
    """Every registered PDK, in registry order (PTM by node, then the foundry PDKs)."""
    return list(_build().values())


def get_pdk(name: str, *, check_files: bool = True) -> Pdk:
    """The PDK called ``name`` (case-insensitive).

    Raises:
        PdkError: the name is unknown (the message lists the known ones), or, with
            ``check_files``, one of its model files is missing (the message names them).
    """
    pdks = _build()
    pdk = pdks.get(name.lower())
    if pdk is None:
        raise PdkError(f"unknown PDK {name!r}; known PDKs: {', '.join(pdks)}")
    if check_files:
        missing = pdk.missing_files()
        if missing:
            raise PdkError(
                f"PDK {pdk.name}: model file(s) missing: {', '.join(map(str, missing))} "
                f"(model folder {models_root()}; set ${ENV_VAR} to point elsewhere)"
            )
    return pdk
