"""The strict reader of values that come out of a sandbox: plain data in, WireError for anything else."""

from __future__ import annotations

import ast
import marshal
import random
import time
from pathlib import Path

import pytest

from srpo.sandbox import host, wire
from srpo.sandbox.wire import NotPlain, WireDict, WireError, WireSet, WireTimeout, canonical, decode, encode, same

PLAIN = [None, True, False, 0, -1, 2 ** 31, -2 ** 31 - 1, 2 ** 100, -(3 ** 500), 10 ** 5000, 1.5, float("inf"),
         -0.0, complex(1, -2), "", "héllo \udc80", b"\x00\xff", (), [], {}, set(), frozenset({1}),
         {1: [2, (3,)], "a": {b"x"}, None: frozenset()}, [[[[1]]]], list(range(1000))]


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_plain_values_round_trip_with_their_exact_types(value):
    out = decode(encode(value))
    assert out == value and type(out) is type(value)


@pytest.mark.parametrize("data, reason", [
    (marshal.dumps(compile("1", "", "eval")), "code objects"),
    (marshal.dumps(("x" * 5, "x" * 5), 4), "back-references (format 4)"),
    (marshal.dumps(StopIteration), "StopIteration"),
    (marshal.dumps(...), "Ellipsis"),
    (b"", "nothing"),
    (encode([1, 2])[:-1], "truncated"),
    (encode(1) + b"x", "trailing bytes"),
    (b"[\xff\xff\xff\x7f", "a count larger than the data"),
    (b"[\xff\xff\xff\xff", "a negative count"),
    (b"(\x01\x00\x00\x00" * 200 + b"N", "nesting too deep"),
    (b"{" + encode([1]) + encode(1) + b"0", "an unhashable key"),
    (b"<\x01\x00\x00\x00" + encode([]), "an unhashable set item"),
    (b"u\x02\x00\x00\x00\xff\xfe", "bad utf-8"),
    (b"l\x01\x00\x00\x00\xff\xff", "a bad integer digit"),
])
def test_anything_else_is_refused(data, reason):
    with pytest.raises(WireError):
        decode(data)


@pytest.mark.parametrize("inert", [False, True])
def test_random_and_mutated_bytes_only_ever_raise_wire_error(inert):
    rng = random.Random(0)
    seeds = [encode(v) for v in PLAIN]
    for _ in range(20000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            if data and rng.random() < 0.7:
                data[rng.randrange(len(data))] = rng.randrange(256)
            else:
                data = data[:rng.randrange(len(data) + 1)] + bytes(rng.randrange(256) for _ in range(3))
        try:
            decode(bytes(data), inert=inert)
        except WireError:
            pass


def test_huge_values_decode_exactly():
    n = 10 ** 200000
    assert decode(encode(n)) == n and decode(encode(list(range(100000))), inert=True)[-1] == 99999


# ---------------------------------------------------------------- the host's reader: nothing is hashed
P = 2 ** 61 - 1  # every multiple hashes to 0 on 64-bit CPython


@pytest.mark.parametrize("value", PLAIN + [{P * k for k in range(1, 50)}, {(1, frozenset({2.5})): {3: None}}],
                         ids=lambda v: type(v).__name__)
def test_inert_values_equal_the_native_ones(value):
    inert = decode(encode(value), inert=True)
    assert inert == value and value == inert and not inert != value
    assert bool(inert) == bool(value)


def test_inert_containers_keep_the_wire_order_and_python_semantics():
    raw_set = b"<\x03\x00\x00\x00" + encode(P * 3) + encode(P) + encode(P * 2)
    reply = decode(b"[\x02\x00\x00\x00" + raw_set + encode({P: "a", 1: "b"}), inert=True)
    assert type(reply[0]) is WireSet and reply[0].items == (P * 3, P, P * 2)
    assert type(reply[1]) is WireDict and reply[1].pairs == ((P, "a"), (1, "b"))
    assert len(reply[0]) == 3 and reply[0] == {P, P * 2, P * 3} and reply[0] != {P, P * 2}
    # A crafted stream may repeat items and keys: a set keeps one of each, a dict the key's last value.
    doubled = decode(b"<\x04\x00\x00\x00" + encode(1) + encode(1.0) + encode(True) + encode(2), inert=True)
    assert len(doubled) == 2 and doubled == {1, 2} and doubled == frozenset({1.0, 2})
    twice = decode(b"{" + encode(1) + encode("a") + encode(1.0) + encode("b") + b"0", inert=True)
    assert len(twice) == 1 and twice == {1: "b"} and twice != {1: "a"}
    assert repr(decode(encode([set(), frozenset(), {1: {2}}]), inert=True)) == "[set(), frozenset(), {1: {2}}]"
    # Read-only mapping and set methods, for inspection (`SandboxPool.run(...).tests[i]["value"]`).
    facts = decode(encode({"env": ["A"], 1: "one", (2, "x"): None}), inert=True)
    assert facts["env"] == ["A"] and facts[1.0] == "one" and facts.get((2, "x"), 0) is None and "nope" not in facts
    assert list(facts) == ["env", 1, (2, "x")] and facts.values() == [["A"], "one", None] and twice.items() == [(1, "b")]
    with pytest.raises(KeyError):
        facts[[1]]
    assert 2 in doubled and 1.0 in doubled and 3 not in doubled and sorted(doubled) == [1, 2]


def test_equality_of_inert_values_is_pythons_on_random_plain_data():
    rng = random.Random(1)
    atoms = [0, 1, -1, 1.0, True, False, 0.0, -0.0, 2.5, 1j, 1 + 0j, complex(2.5, -0.0), float("inf"), P, 2 * P,
             10 ** 30, -(10 ** 30), float(10 ** 30), "", "a", "\udc80", b"", b"a", None]

    def plain(depth):
        kind = rng.randrange(8 if depth else 1)
        if kind == 0:
            return rng.choice(atoms)
        items = [plain(depth - 1) for _ in range(rng.randrange(4))]
        keys = [key(depth - 1) for _ in range(rng.randrange(4))]
        return [tuple(items), items, set(keys), frozenset(keys), dict(zip(keys, items)), {}, items][kind - 1]

    def key(depth):
        value = plain(depth)
        return value if _hashable(value) else rng.choice(atoms)

    for _ in range(3000):
        a, b = plain(3), plain(3)
        if rng.random() < 0.3:
            b = decode(encode(a))  # equal, built apart
        for x, y in ((a, b), (a, a), (b, b)):
            expect = x == y
            inert = decode(encode(x), inert=True)
            assert (inert == y) is expect and (y == inert) is expect, (x, y)
            assert (inert == decode(encode(y), inert=True)) is expect, (x, y)


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return False
    return True


def test_nan_equals_nothing_and_deep_or_odd_values_are_unequal():
    nan = float("nan")
    assert decode(encode({nan}), inert=True) != {nan} and decode(encode({1: nan}), inert=True) != {1: nan}
    deep = frozenset()
    for _ in range(300):
        deep = frozenset({deep})
    assert decode(encode({1}), inert=True) != {1, ...}  # Ellipsis is not plain data: unequal, no error
    assert not same({deep}, {deep}) and not same({object()}, {object()})
    assert WireSet([1]) != [1] and WireDict([]) != [] and WireDict([]) == {}


class _Counting(int):
    """An int that counts how often it is hashed or compared, and collides with every other."""

    calls = 0

    def __hash__(self):
        type(self).calls += 1
        return 0

    def __eq__(self, other):
        type(self).calls += 1
        return int(self) == int(other)


def test_the_inert_reader_never_hashes_or_compares_keys(monkeypatch):
    monkeypatch.setitem(wire._READERS, b"l", lambda r, d: _Counting(wire._Reader.long(r, d)))
    n = 300
    data = encode([{P * k for k in range(1, n + 1)}, {P * k: k for k in range(1, n + 1)}])
    _Counting.calls = 0
    reply = decode(data, inert=True)
    assert _Counting.calls == 0 and len(reply[0].items) == len(reply[1].pairs) == n
    decode(data)  # the native reader (the tester's, inside a sandbox): quadratic on colliding keys
    assert _Counting.calls >= n * (n - 1) // 2


def test_comparing_inert_values_does_linear_work_whatever_the_keys(monkeypatch):
    calls = []
    write = wire._write
    monkeypatch.setattr(wire, "_write", lambda v, out, depth: calls.append(1) or write(v, out, depth))

    def work(value, literal):
        calls.clear()
        assert decode(encode(value), inert=True) == literal
        return len(calls)

    n = 2000
    honest = [(k, str(k)) for k in range(n)]
    colliding = [(P * k, str(k)) for k in range(1, n + 1)]
    for items in (honest, colliding):
        # A set of tuples and a dict go through `canonical`: a bounded number of writes per item.
        assert work(set(items), set(items)) == 2 * (3 * n + 1) and work(dict(items), dict(items)) == 2 * (2 * n + 1)
        # A set of ints is sorted in C: no write at all.
        assert work({k for k, _ in items}, {k for k, _ in items}) == 0


def test_canonical_bytes_decide_equality():
    assert canonical(1) == canonical(1.0) == canonical(True) == canonical(1 + 0j) != canonical(1.5)
    assert canonical(0.0) == canonical(-0.0) == canonical(0) and canonical(float("nan")) != canonical(float("nan"))
    assert canonical({1, 2}) == canonical(frozenset({2.0, 1})) == canonical(WireSet([2, 1, 2]))
    assert canonical({1: "a", 2: "b"}) == canonical(WireDict([(2, "x"), (1, "a"), (2.0, "b")]))
    assert canonical((1,)) != canonical([1]) and canonical("a") != canonical(b"a")
    assert canonical(complex(1, -0.0)) == canonical(1) and canonical(complex(1, 2)) != canonical(complex(2, 1))
    with pytest.raises(NotPlain):
        canonical(object())


def test_a_passed_deadline_stops_the_reader():
    with pytest.raises(WireTimeout):
        decode(encode(list(range(3 * wire.CHECK_EVERY))), inert=True, deadline=time.monotonic() - 1)
    with pytest.raises(WireTimeout):
        decode(encode(1), inert=True, deadline=time.monotonic() - 1)
    assert decode(encode([1]), inert=True, deadline=time.monotonic() + 60) == [1]


def test_inert_reader_refuses_what_the_native_one_refuses():
    for data in (b"{" + encode([1]) + encode(1) + b"0", b"<\x01\x00\x00\x00" + encode([]),
                 b"<\x01\x00\x00\x00" + encode(({1: 2},)), b"{" + encode((1, {2})) + encode(1) + b"0"):
        for inert in (False, True):
            with pytest.raises(WireError):
                decode(data, inert=inert)
    ok = encode({(1, frozenset({(2,)})): 1, frozenset(): {3}})
    assert decode(ok, inert=True) == decode(ok)


def test_the_host_reads_every_reply_inert_and_under_its_deadline():
    """Every decode in host.py goes through `_read`, which is inert and has the deadline."""
    tree = ast.parse(Path(host.__file__).read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "decode"]
    assert len(calls) == 1
    assert {k.arg for k in calls[0].keywords} == {"inert", "deadline"}
    assert calls[0].keywords[0].value.value is True
    assert type(host._read(encode({P, 2 * P}), time.monotonic() + 60)) is WireSet
