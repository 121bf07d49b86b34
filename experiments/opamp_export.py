"""How AnalogGenie's op-amps export to sizable DUTs: how many, why not, and how much tying saves.

For every AnalogGenie op-amp, ``ckt.gen.export.export_opamp`` (ptm180); counts the refusals by reason,
the size parameters before tying (two per MOSFET, one per other device) and after (one per
automorphism orbit, with and without the input-pair matching), and the design-space size. Writes
``opamp_export.json`` to ``--out``. No simulation: the functional yield (``experiments/generation.py``)
sizes exported op-amps.

    python experiments/opamp_export.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ckt.errors import ExportError  # noqa: E402
from ckt.gen.export import export_opamp  # noqa: E402
from ckt.gen.train import read_analoggenie  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "experiments" / "results")
    args = ap.parse_args()
    opamps = [c for c in read_analoggenie() if c.ckt_type == "Opamp"]
    refused: Counter[str] = Counter()
    before = tied_auto = tied_all = 0
    variables = []
    polarity: Counter[str] = Counter()
    for c in opamps:
        try:
            e = export_opamp(c.netlist, c.ports, name="opamp")
            plain = export_opamp(c.netlist, c.ports, name="opamp", match_inputs=False)
        except ExportError as exc:
            why = str(exc).split(": ", 1)[1]
            refused["a subcircuit instance" if "instance of" in why else why.split(" among")[0]] += 1
            continue
        before += e.n_device_params
        tied_all += e.n_tied_params
        tied_auto += plain.n_tied_params
        variables.append(len(e.variables))
        polarity[e.polarity] += 1
    result = {
        "opamps": len(opamps), "exported": len(variables), "refused": dict(refused.most_common()),
        "size_params_before_tying": before, "after_automorphisms": tied_auto, "after_input_pair_too": tied_all,
        "reduction_automorphisms": 1 - tied_auto / before, "reduction_with_input_pair": 1 - tied_all / before,
        "variables_median": statistics.median(variables), "variables_max": max(variables),
        "input_polarity": dict(polarity),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "opamp_export.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
