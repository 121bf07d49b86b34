"""Where ngspice is: the ``ngspice`` executable and the libngspice shared library.

Both can be pointed at explicitly (``CKT_NGSPICE``, ``CKT_LIBNGSPICE``), for a build outside the
system paths or to check what ckt does without one; otherwise the system's are used.
"""

from __future__ import annotations

import os
import shutil

NGSPICE_ENV = "CKT_NGSPICE"
LIBNGSPICE_ENV = "CKT_LIBNGSPICE"

INSTALL_FIX = (
    "install ngspice: `sudo apt-get install ngspice libngspice0-dev` (Debian/Ubuntu), "
    "`brew install ngspice` (macOS); or point {env} at it"
)

# Debian's libngspice0 ships only the versioned name; the unversioned one comes with -dev.
_LIBRARY_NAMES = ("libngspice.so", "libngspice.so.0", "libngspice.dylib", "libngspice.0.dylib")


def fix_for(env: str) -> str:
    """The install hint for a missing component that ``env`` can point at."""
    return INSTALL_FIX.format(env=env)


def ngspice_binary(explicit: str | None = None) -> str | None:
    """The ``ngspice`` executable to run: ``explicit``, else ``$CKT_NGSPICE``, else the one on ``PATH``."""
    explicit = explicit or os.environ.get(NGSPICE_ENV)
    if explicit:
        return explicit
    return shutil.which("ngspice")


def libngspice_candidates(explicit: str | None = None) -> tuple[str, ...]:
    """Library paths to try in order: ``explicit`` or ``$CKT_LIBNGSPICE`` alone, else the usual names."""
    explicit = explicit or os.environ.get(LIBNGSPICE_ENV)
    if explicit:
        return (explicit,)
    pyspice = os.environ.get("NGSPICE_LIBRARY_PATH")  # PySpice's own variable, honoured too
    return (pyspice,) if pyspice else _LIBRARY_NAMES
