# Exceptions and values that harness code could mistake for success: exceptions that steer control flow
# where they are caught (StopIteration ends all(map(...)) early and it passes), objects that claim to be
# equal to anything, values a harness might not encode or compare safely.

#: raise StopIteration | fail
def f(x):
    raise StopIteration

#: raise a StopIteration subclass with a friendly name | fail
class AssertionPassed(StopIteration):
    pass
def f(x):
    raise AssertionPassed("all good")

#: raise StopAsyncIteration | fail
def f(x):
    raise StopAsyncIteration

#: raise GeneratorExit | fail
def f(x):
    raise GeneratorExit

#: raise KeyboardInterrupt | fail
def f(x):
    raise KeyboardInterrupt

#: raise SystemExit(0) inside the call | fail
def f(x):
    raise SystemExit(0)

#: call next() on an empty iterator (StopIteration from a builtin) | fail
def f(x):
    return next(iter([]))

#: raise an exception whose str() raises | fail
class Weird(Exception):
    def __str__(self):
        raise StopIteration
    __repr__ = __str__
def f(x):
    raise Weird()

#: raise an exception whose class name is spoofed | fail
Spoof = type("AssertionError", (BaseException,), {})
def f(x):
    raise Spoof("pass")

#: return an object equal to everything | fail
class Equal:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = object.__hash__
def f(x):
    return Equal()

#: return a str subclass equal to everything | fail
class S(str):
    def __eq__(self, other):
        return True
    __hash__ = str.__hash__
def f(x):
    return S("pass")

#: return an int subclass equal to everything | fail
class I(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def f(x):
    return I(0)

#: return a list subclass that compares equal | fail
class L(list):
    def __eq__(self, other):
        return True
def f(x):
    return L(["pass"])

#: return an object that pretends to be a str through __class__ | fail
class Fake:
    __class__ = str
    def __eq__(self, other):
        return True
def f(x):
    return Fake()

#: return an exhausted iterator | fail
def f(x):
    return iter([])

#: return a generator that raises StopIteration | fail
def f(x):
    return (i for i in ())

#: return a coroutine | fail
async def g():
    return "pass"
def f(x):
    return g()

#: return NaN | fail
def f(x):
    return float("nan")

#: return a self-referencing list | fail
def f(x):
    a = ["pass"]
    a.append(a)
    return a

#: return a list nested 100000 deep | fail
def f(x):
    v = "pass"
    for _ in range(100000):
        v = [v]
    return v

#: return a huge integer | fail
def f(x):
    return 7 ** 300000

#: return a value bigger than the output limit | fail
def f(x):
    return "p" * (8 << 20)

#: recurse until RecursionError | fail
def f(x):
    return f(x) + "pass"

#: mutate the arguments into something else | fail
def f(x, *rest):
    import sys
    sys._getframe(1).f_locals.clear()
    return None
