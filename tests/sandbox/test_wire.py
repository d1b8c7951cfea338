"""The strict reader of values that come out of a sandbox: plain data in, WireError for anything else."""

from __future__ import annotations

import marshal
import random
import time

import pytest

from srpo.sandbox.wire import WireError, decode, encode

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


def test_random_and_mutated_bytes_only_ever_raise_wire_error():
    rng = random.Random(0)
    seeds = [encode(v) for v in PLAIN]
    start = time.monotonic()
    for _ in range(20000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            if data and rng.random() < 0.7:
                data[rng.randrange(len(data))] = rng.randrange(256)
            else:
                data = data[:rng.randrange(len(data) + 1)] + bytes(rng.randrange(256) for _ in range(3))
        try:
            decode(bytes(data))
        except WireError:
            pass
    assert time.monotonic() - start < 30


def test_decoding_is_linear_in_the_size():
    n = 10 ** 200000
    start = time.monotonic()
    assert decode(encode(n)) == n and decode(encode(list(range(100000))))[-1] == 99999
    assert time.monotonic() - start < 5
