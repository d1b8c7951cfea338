import pytest

from srpo.data import Problem, make_uid


def test_uid_is_content_hash():
    a = Problem.create("math", "What is 2+3?", "5")
    b = Problem.create("math", "What is 2+3?", "5")
    c = Problem.create("math", "What is 2+3?", "6")
    assert a.uid == b.uid != c.uid
    assert a.uid == make_uid("math", "What is 2+3?", "5")


def test_round_trip_and_domain_check():
    p = Problem.create("code", "write f", tests={"kind": "function", "entry_point": "f", "cases": []})
    assert Problem.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="domain"):
        Problem("x", "physics", "p")
