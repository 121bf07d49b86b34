"""``python -m ckt`` runs the ``ckt`` command."""

from ckt.cli import entry

entry()
