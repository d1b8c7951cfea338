"""The wire format across the sandbox boundary: frames of plain data, and a strict reader for them.

Frames are an 8-byte little-endian length, then the payload. Values are ``marshal`` data of format
version 2 (written by C, no imports needed inside the sandbox, no back-references). ``marshal.loads`` is
never used on bytes a sandbox sent: it builds code objects and is not hardened against crafted input.
Such bytes are read by `decode`, which builds every object itself, accepts only exact built-in plain data
(None, bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset) at most `MAX_DEPTH` deep,
and raises `WireError` on anything else.

Bounds on the host (``decode(data, inert=True, deadline=...)``, what `srpo.sandbox.host` calls):

* Decoding reads each byte once and builds each object once: time linear in ``len(data)``, whatever the
  bytes hold. Nothing the sandbox chose is hashed: dicts and sets come back as `WireDict` / `WireSet`, their
  items in wire order (duplicates included), instead of ``dict`` / ``set``, whose construction hashes every
  key (ints are their own hashes modulo 2**61-1, so a reply of colliding keys under the size cap made the
  old reader quadratic: about a minute at 1 MiB). With a `deadline`, the reader looks at the clock every
  `CHECK_EVERY` values and at the end, and raises `WireTimeout` once it has passed.
* Comparing: ``==`` between a `WireSet` / `WireDict` and plain data (either side) has Python's meaning for
  plain data (``{1, 2.0} == {True + 1, 1}``, set equals frozenset, a later duplicate key wins), decided
  without hashing: both sides are written in a canonical byte form (`canonical`: numbers that are equal
  write the same bytes, a set writes its distinct members sorted) and the bytes compared. That costs
  O(S log S + S * d) for values of S bytes with sets or dicts nested d deep (d <= `MAX_DEPTH`): sorting
  byte strings, each comparison a ``memcmp``. NaN equals nothing (Python's identity shortcut cannot apply
  to decoded objects). The rest of plain data compares with Python's own ``==``, linear in its size.

Inside a sandbox (the tester reading the candidate's replies for test code), ``decode(data)`` builds real
dicts and sets: test code needs them, and the time that hashing takes there is the sandbox's own, counted
by its job's deadline.

This file also runs inside the sandbox (its source is put in front of ``_inside.py``'s): standard
library only, and no syntax newer than the oldest interpreter a sandbox may use (3.8).
"""

import itertools
import marshal
import struct
import time

HEADER = 8
VERSION = 2
MAX_DEPTH = 100
CHECK_EVERY = 4096  # values decoded between two looks at the clock (a power of 2)


class WireError(ValueError):
    """Bytes that are not one well-formed plain value."""


class WireTimeout(WireError):
    """The deadline passed while decoding (or comparing) a value."""


def frame(payload):
    """`payload` with its length in front."""
    return len(payload).to_bytes(HEADER, "little") + payload


def encode(value):
    """``marshal`` bytes of `value` (ValueError if it holds anything marshal cannot write)."""
    return marshal.dumps(value, VERSION)


def decode(data, inert=False, deadline=None):
    """The plain value in `data`, or WireError.

    `inert`: dicts and sets come back as `WireDict` / `WireSet` (nothing hashed: the host's way to read
    what a sandbox sent); otherwise as ``dict`` / ``set`` / ``frozenset``. `deadline` (``time.monotonic()``
    seconds): `WireTimeout` once it has passed.

    >>> decode(encode((1, [2.5, "x"], {b"k": {3}, None: -2 ** 70})))
    (1, [2.5, 'x'], {b'k': {3}, None: -1180591620717411303424})
    >>> reply = decode(encode({"a": {1, 2}}), inert=True)
    >>> type(reply).__name__, reply == {"a": {2.0, 1}}, reply == {"a": {1}}, reply
    ('WireDict', True, False, {'a': {1, 2}})
    >>> decode(encode(compile("1", "", "eval")))
    Traceback (most recent call last):
    ...
    srpo.sandbox.wire.WireError: type code b'c' is not plain data
    """
    reader = _Reader(bytes(data), inert, deadline)
    value = reader.value(MAX_DEPTH)
    if reader.pos != len(reader.data):
        raise WireError("trailing bytes after the value")
    reader.check_clock()
    return value


# ------------------------------------------------------------------------------------- inert containers
class WireSet:
    """A set or frozenset as it came over the wire: `items` in wire order, never hashed.

    ``==`` with a set, frozenset or WireSet compares members as Python would (see the module docstring);
    ``bool`` is non-emptiness; ``len`` counts distinct members; iterating gives them; ``in`` looks one up
    (in an index by `canonical` bytes, built on first use: bytes hash with the interpreter's secret key).
    """

    __slots__ = ("items", "frozen", "_index")
    __hash__ = None

    def __init__(self, items, frozen=False):
        self.items, self.frozen, self._index = tuple(items), frozen, None

    def __iter__(self):
        return iter(unique(self.items))

    def __contains__(self, item):
        if self._index is None:
            self._index = {canonical(x) for x in self.items}
        try:
            return canonical(item) in self._index
        except NotPlain:
            return False

    def __eq__(self, other):
        if not isinstance(other, (set, frozenset, WireSet)):
            return NotImplemented
        return same(self, other)

    def __bool__(self):
        return bool(self.items)

    def __len__(self):
        return len(unique(self.items))

    def __repr__(self):  # as a set's (in wire order), so that messages read as before
        inner = ", ".join(map(repr, self.items))
        if self.frozen:
            return "frozenset({%s})" % inner if inner else "frozenset()"
        return "{%s}" % inner if inner else "set()"


class WireDict:
    """A dict as it came over the wire: `pairs` (key, value) in wire order, never hashed.

    ``==`` with a dict or WireDict compares as Python would (a later duplicate key wins); ``bool`` is
    non-emptiness; ``len`` counts distinct keys. For inspection, read-only mapping methods (``[key]``,
    ``get``, ``in``, ``keys``, ``values``, ``items``, iteration) behave as a dict's; lookups go through an
    index by `canonical` bytes built on first use (bytes hash with the interpreter's secret key).
    """

    __slots__ = ("pairs", "_index")
    __hash__ = None

    def __init__(self, pairs):
        self.pairs, self._index = tuple(pairs), None

    def _lookup(self, key, default):
        if self._index is None:
            self._index = {canonical(k): v for k, v in self.pairs}
        try:
            return self._index.get(canonical(key), default)
        except NotPlain:
            return default

    def __getitem__(self, key):
        value = self._lookup(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key, default=None):
        return self._lookup(key, default)

    def __contains__(self, key):
        return self._lookup(key, _MISSING) is not _MISSING

    def items(self):
        return unique_pairs(self.pairs)

    def keys(self):
        return [k for k, _ in unique_pairs(self.pairs)]

    def values(self):
        return [v for _, v in unique_pairs(self.pairs)]

    def __iter__(self):
        return iter(self.keys())

    def __eq__(self, other):
        if not isinstance(other, (dict, WireDict)):
            return NotImplemented
        return same(self, other)

    def __bool__(self):
        return bool(self.pairs)

    def __len__(self):
        return len(unique_pairs(self.pairs))

    def __repr__(self):  # as a dict's
        return "{%s}" % ", ".join("%r: %r" % pair for pair in self.pairs)


class NotPlain(ValueError):
    """`canonical` met something that is not plain data, or plain data nested deeper than it reads."""


def same(a, b):
    """``a == b`` for plain data (native or inert containers, either side) without hashing either: their
    `canonical` forms are equal. False when either is not plain data."""
    flat = _members(a), _members(b)
    if flat[0] is not None and flat[1] is not None:  # sets of numbers or of strings: sorted, compared in C
        return _sorted_distinct(flat[0]) == _sorted_distinct(flat[1])
    try:
        return canonical(a) == canonical(b)
    except NotPlain:
        return False


_REALS = (int, float, bool)


def _members(value):
    """A set's members if they are all numbers other than NaN, or all str (a total order), else None."""
    if type(value) is WireSet:
        value = value.items
    elif type(value) not in (set, frozenset):
        return None
    items = list(value)
    if all(type(x) is str for x in items) or all(type(x) in _REALS and x == x for x in items):
        return items
    return None


def _sorted_distinct(items):
    """`items` (numbers but NaN, or strs) sorted, each run of equal ones cut to its first (a stable sort)."""
    order = sorted(range(len(items)), key=items.__getitem__)
    return [items[i] for n, i in enumerate(order) if not n or items[i] != items[order[n - 1]]]


def unique(items):
    """The distinct members of `items` (the first of each group of equal ones), in canonical order (in
    value order for numbers or strs alone)."""
    items = list(items)
    if all(type(x) is str for x in items) or all(type(x) in _REALS and x == x for x in items):
        return _sorted_distinct(items)
    keyed = sorted([(canonical(x), i) for i, x in enumerate(items)])
    out, last = [], None
    for key, i in keyed:
        if key != last:
            out.append(items[i])
            last = key
    return out


def unique_pairs(pairs):
    """`pairs` as a dict would keep them: one per distinct key (its first key object, its last value), in
    the order of the keys' first appearance."""
    keyed = sorted([(canonical(k), i) for i, (k, _) in enumerate(pairs)])
    out = []
    for n, (key, i) in enumerate(keyed):
        if n and key == keyed[n - 1][0]:
            out[-1] = (out[-1][0], out[-1][1], pairs[i][1])
        else:
            out.append((i, pairs[i][0], pairs[i][1]))
    out.sort(key=lambda entry: entry[0])
    return [(k, v) for _, k, v in out]


_MISSING = object()


_NAN_IDS = itertools.count()
_Q = struct.Struct(">Q")
_INF = float("inf")


def canonical(value):
    """Bytes that are equal for two plain values exactly when the values are equal (``==``).

    Numbers equal in value write the same bytes (``1``, ``1.0``, ``True``, ``1+0j``; ``-0.0`` and ``0``);
    every NaN writes bytes of its own; a set writes its distinct members sorted, a dict its distinct keys
    sorted (the last value of a key wins). Linear in the value's size, plus a sort per set or dict. NotPlain
    for anything else, or for nesting deeper than twice `MAX_DEPTH`.
    """
    out = bytearray()
    _write(value, out, 2 * MAX_DEPTH)
    return bytes(out)


def _write(value, out, depth):
    if depth < 0:
        raise NotPlain("nested too deeply")
    t = type(value)
    if value is None:
        out += b"N"
    elif t is int or t is bool:
        _write_int(int(value), out)
    elif t is float:
        _write_real(value, out)
    elif t is complex:
        if value.imag == 0:
            _write_real(value.real, out)
        else:
            out += b"c"
            _write_float(value.real + 0.0, out)  # -0.0 + 0.0 is 0.0
            _write_float(value.imag + 0.0, out)
    elif t is str:
        raw = value.encode("utf-8", "surrogatepass")
        out += b"u" + _Q.pack(len(raw)) + raw
    elif t is bytes:
        out += b"s" + _Q.pack(len(value)) + value
    elif t is tuple or t is list:
        out += (b"(" if t is tuple else b"[") + _Q.pack(len(value))
        for item in value:
            _write(item, out, depth - 1)
    elif t is set or t is frozenset or t is WireSet:
        members = []
        for item in (value.items if t is WireSet else value):
            one = bytearray()
            _write(item, one, depth - 1)
            members.append(bytes(one))
        members.sort()
        distinct = [m for n, m in enumerate(members) if not n or m != members[n - 1]]
        out += b"<" + _Q.pack(len(distinct)) + b"".join(distinct)
    elif t is dict or t is WireDict:
        keyed = []
        for n, (key, item) in enumerate(value.pairs if t is WireDict else value.items()):
            one = bytearray()
            _write(key, one, depth - 1)
            keyed.append((bytes(one), n, item))
        keyed.sort(key=lambda entry: entry[:2])
        kept = [entry for n, entry in enumerate(keyed) if n + 1 == len(keyed) or keyed[n + 1][0] != entry[0]]
        out += b"{" + _Q.pack(len(kept))
        for key, _, item in kept:
            out += key
            _write(item, out, depth - 1)
    else:
        raise NotPlain("%s is not plain data" % t.__name__)


def _write_int(n, out):
    # Order-preserving for ints of one sign: sign byte, length, big-endian magnitude (complemented if < 0).
    size = (n.bit_length() + 7) // 8
    if n >= 0:
        out += b"i\x01" + _Q.pack(size) + n.to_bytes(size, "big")
    else:
        out += b"i\x00" + _Q.pack(~size & 0xFFFFFFFFFFFFFFFF) + (~n).to_bytes(size, "big")


def _write_real(x, out):
    if x != x:
        out += b"n" + _Q.pack(next(_NAN_IDS) & 0xFFFFFFFFFFFFFFFF)
    elif x != _INF and x != -_INF and x == int(x):
        _write_int(int(x), out)
    else:
        _write_float(x, out)


def _write_float(x, out):
    if x != x:
        out += b"n" + _Q.pack(next(_NAN_IDS) & 0xFFFFFFFFFFFFFFFF)
        return
    bits = _Q.unpack(struct.pack(">d", x))[0]  # order-preserving: flip the sign bit, or all bits if < 0
    out += b"f" + _Q.pack(bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | 1 << 63)


# ------------------------------------------------------------------------------------------------ reader
class _Reader:
    def __init__(self, data, inert=False, deadline=None):
        self.data, self.pos, self.inert, self.deadline, self.seen = data, 0, inert, deadline, 0
        # Whether the value just read could be a dict key or set member (only tracked when inert).
        self.hashable = True

    def check_clock(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise WireTimeout("time limit exceeded while decoding a reply")

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
        self.seen += 1
        if not self.seen & (CHECK_EVERY - 1):
            self.check_clock()
        code = self.take(1)
        if code in _CONSTANTS:
            self.hashable = True
            return _CONSTANTS[code]
        read = _READERS.get(code)
        if read is None:
            raise WireError("type code %r is not plain data" % code)
        self.hashable = True
        return read(self, depth - 1)

    def items(self, depth):
        return [self.value(depth) for _ in range(self.count())]

    def hashable_items(self, depth):
        """Items of a tuple (hashable if all are) or set members (each must be)."""
        out, every = [], True
        for _ in range(self.count()):
            out.append(self.value(depth))
            every = every and self.hashable
        self.hashable = every
        return out

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

    def tuple(self, depth):
        if not self.inert:
            return tuple(self.items(depth))
        return tuple(self.hashable_items(depth))

    def list(self, depth):
        out = self.items(depth)
        self.hashable = False
        return out

    def set(self, depth, frozen):
        if not self.inert:
            return (frozenset if frozen else set)(map(_hashable, self.items(depth)))
        members = self.hashable_items(depth)
        if not self.hashable:
            raise WireError("unhashable key or set item")
        self.hashable = frozen
        return WireSet(members, frozen)

    def dict(self, depth):
        if not self.inert:
            out = {}
            while self.data[self.pos:self.pos + 1] != b"0":
                key = self.value(depth)
                out[_hashable(key)] = self.value(depth)
            self.take(1)
            return out
        pairs = []
        while self.data[self.pos:self.pos + 1] != b"0":
            key = self.value(depth)
            if not self.hashable:
                raise WireError("unhashable key or set item")
            pairs.append((key, self.value(depth)))
        self.take(1)
        self.hashable = False
        return WireDict(pairs)


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
    b"(": _Reader.tuple,
    b"[": _Reader.list,
    b"<": lambda r, d: r.set(d, False),
    b">": lambda r, d: r.set(d, True),
    b"{": _Reader.dict,
}
