"""The wire format across the sandbox boundary: frames of plain data, and a strict reader for them.

Frames are an 8-byte little-endian length, then the payload. Values are ``marshal`` data of format
version 2 (written by C, no imports needed inside the sandbox, no back-references). ``marshal.loads`` is
never used on bytes a sandbox sent: it builds code objects and is not hardened against crafted input.
Such bytes are read by `decode`, which builds every object itself, accepts only exact built-in plain data
(None, bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset) at most `MAX_DEPTH` deep,
runs in time linear in the input, and raises `WireError` on anything else.

This file also runs inside the sandbox (its source is put in front of ``_inside.py``'s): standard
library only, and no syntax newer than the oldest interpreter a sandbox may use (3.8).
"""

import marshal
import struct

HEADER = 8
VERSION = 2
MAX_DEPTH = 100


class WireError(ValueError):
    """Bytes that are not one well-formed plain value."""


def frame(payload):
    """`payload` with its length in front."""
    return len(payload).to_bytes(HEADER, "little") + payload


def encode(value):
    """``marshal`` bytes of `value` (ValueError if it holds anything marshal cannot write)."""
    return marshal.dumps(value, VERSION)


def decode(data):
    """The plain value in `data`, or WireError.

    >>> decode(encode((1, [2.5, "x"], {b"k": {3}, None: -2 ** 70})))
    (1, [2.5, 'x'], {b'k': {3}, None: -1180591620717411303424})
    >>> decode(encode(compile("1", "", "eval")))
    Traceback (most recent call last):
    ...
    srpo.sandbox.wire.WireError: type code b'c' is not plain data
    """
    reader = _Reader(bytes(data))
    value = reader.value(MAX_DEPTH)
    if reader.pos != len(reader.data):
        raise WireError("trailing bytes after the value")
    return value


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        end = self.pos + n
        if end > len(self.data):
            raise WireError("truncated value")
        chunk, self.pos = self.data[self.pos:end], end
        return chunk

    def int32(self):
        return int.from_bytes(self.take(4), "little", signed=True)

    def count(self):
        n = self.int32()
        if n < 0 or n > len(self.data) - self.pos:  # every item takes at least one byte
            raise WireError("bad item count")
        return n

    def value(self, depth):
        if depth < 0:
            raise WireError("value nested too deeply")
        code = self.take(1)
        if code in _CONSTANTS:
            return _CONSTANTS[code]
        read = _READERS.get(code)
        if read is None:
            raise WireError("type code %r is not plain data" % code)
        return read(self, depth - 1)

    def items(self, depth):
        return [self.value(depth) for _ in range(self.count())]

    def long(self, depth):
        n = self.int32()
        raw = self.take(2 * abs(n))
        digits = [int.from_bytes(raw[i:i + 2], "little") for i in range(0, len(raw), 2)]
        if any(d >> 15 for d in digits):
            raise WireError("bad digit in an integer")
        value = _join_digits(digits)
        return -value if n < 0 else value

    def double(self, depth):
        return struct.unpack("<d", self.take(8))[0]

    def text(self, depth):
        try:
            return str(self.take(self.count()), "utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise WireError("bad utf-8 in a string") from None

    def dict(self, depth):
        out = {}
        while self.data[self.pos:self.pos + 1] != b"0":
            key = self.value(depth)
            out[_hashable(key)] = self.value(depth)
        self.take(1)
        return out


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        raise WireError("unhashable key or set item") from None
    return value


def _join_digits(digits):
    """marshal's base-2**15 digits (least significant first) as one int, in linear time."""
    chunks = []
    for i in range(0, len(digits), 8):  # 8 digits = 120 bits = 15 bytes
        word = 0
        for j, digit in enumerate(digits[i:i + 8]):
            word |= digit << (15 * j)
        chunks.append(word.to_bytes(15, "little"))
    return int.from_bytes(b"".join(chunks), "little")


_CONSTANTS = {b"N": None, b"F": False, b"T": True}
_READERS = {
    b"i": lambda r, d: r.int32(),
    b"l": _Reader.long,
    b"g": _Reader.double,
    b"y": lambda r, d: complex(r.double(d), r.double(d)),
    b"s": lambda r, d: r.take(r.count()),
    b"u": _Reader.text,
    b"t": _Reader.text,
    b"(": lambda r, d: tuple(r.items(d)),
    b"[": _Reader.items,
    b"<": lambda r, d: set(map(_hashable, r.items(d))),
    b">": lambda r, d: frozenset(map(_hashable, r.items(d))),
    b"{": _Reader.dict,
}
