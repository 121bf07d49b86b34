"""Reading netlist source text: the one place bytes become text, for every format and every include.

Netlists come from many tools and eras, so the same rules apply to SPICE, Spectre, component
lists and ckt JSON, to a top-level file and to each file it includes:

* a UTF-8 byte-order mark is dropped (so is a BOM left at the start of a ``str``);
* UTF-16 with a byte-order mark is decoded as UTF-16;
* otherwise UTF-8, and when that fails Latin-1 (every byte maps, nothing is lost) with a warning
  that names the first line that is not UTF-8;
* a NUL byte, or mostly control bytes, means the file is not text: a ``NetlistParseError`` naming
  the line the first such byte is on.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass
from pathlib import Path

from ckt.errors import CktError, NetlistParseError
from ckt.netlist.ir import Diagnostic

__all__ = ["Source", "check_text", "decode_source", "read_source"]

_SNIFF = 8192
_CONTROL_SHARE = 0.1
"""Share of control bytes (besides tab, newline, form feed, carriage return) in the first
``_SNIFF`` bytes above which content is taken as binary."""


@dataclass(frozen=True, slots=True)
class Source:
    """A netlist file's text and what decoding it had to say.

    Attributes:
        text: the decoded text, without a byte-order mark.
        file: the file it came from (None for bytes given directly).
        diagnostics: warnings from decoding (a Latin-1 fallback), with file and line.
    """

    text: str
    file: str | None = None
    diagnostics: tuple[Diagnostic, ...] = ()


def _line_of(data: bytes | str, index: int) -> int:
    if isinstance(data, bytes):
        return data.count(b"\n", 0, index) + 1
    return data.count("\n", 0, index) + 1


def _binary_error(file: str | None, line: int, what: str) -> NetlistParseError:
    return NetlistParseError([Diagnostic("error", f"not a text netlist ({what})", file, line, "binary")])


def check_text(text: str, file: str | None = None) -> str:
    """``text`` without a leading byte-order mark.

    Raises:
        NetlistParseError: the text holds a NUL character (at its line).
    """
    nul = text.find("\x00")
    if nul >= 0:
        raise _binary_error(file, _line_of(text, nul), "NUL byte")
    return text.removeprefix("\ufeff")


def decode_source(data: bytes, file: str | None = None) -> Source:
    """Decode a netlist's bytes by the rules in the module docstring.

    Raises:
        NetlistParseError: binary content, at the line of its first NUL or control byte.
    """
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                return Source(check_text(data[len(bom):].decode(codec), file), file)
            except UnicodeDecodeError as exc:
                raise _binary_error(file, 1, f"invalid UTF-16: {exc.reason}") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _binary_error(file, _line_of(data, nul), "NUL byte")
    head = data[:_SNIFF]
    odd = [i for i, b in enumerate(head) if b < 32 and b not in (9, 10, 12, 13)]
    if head and len(odd) > len(head) * _CONTROL_SHARE:
        raise _binary_error(file, _line_of(data, odd[0]), "binary content")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return Source(data.decode("utf-8"), file)
    except UnicodeDecodeError as exc:
        line = _line_of(data, exc.start)
        warning = Diagnostic("warning", "file is not valid UTF-8; decoded as Latin-1", file, line, "encoding")
        return Source(data.decode("latin-1"), file, (warning,))


def read_source(path: str | os.PathLike[str]) -> Source:
    """Read and decode the netlist file ``path``.

    Raises:
        CktError: the file is missing, a folder, or cannot be read.
        NetlistParseError: binary content (see ``decode_source``).
    """
    path = Path(path)
    if not path.exists():
        raise CktError(f"{path}: no such file")
    if path.is_dir():
        raise CktError(f"{path}: is a folder, not a netlist file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CktError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return decode_source(data, str(path))
