"""The program every sandbox runs; its source, after wire.py's, is handed to ``python -I -S -B -c``.

A started sandbox is this runner as the pid namespace's init (bwrap's ``--as-pid-1``): it makes itself
non-dumpable, applies the runner's limits (the host's first frame; inherited by every process of the
sandbox), then waits for one job on its stdin and plays the role the job names. Its stdin and stdout
are its channel to the host: moved to other descriptors at start, while 0, 1 and 2 point at /dev/null
for the code it runs. Every message is a frame of `wire.encode` data (see wire.py).

* ``function``, the *candidate*: loads the model's program and answers ``("ready", names)`` or
  ``("load_error", text)``, then serves calls ``(name, args, kwargs)`` one frame at a time with
  ``("ok", value)``, ``("ok", value, args)`` (it mutated a top-level list/dict/set argument),
  ``("raise", type name, nearest built-in base, text)`` or ``("bad", type name)`` (not plain data).
  It receives the program and the arguments of each call, nothing else: no expected value, no test code.
* ``stdio``: runs the program once per case in a fresh child process. The host sends one case's stdin at a
  time and gets ``(status, stdout, stderr tail, detail)`` back. No expected output ever enters.
* ``tester``: runs a problem's test code (trusted) with the candidate's functions bound to proxies. A
  proxy call goes to the host as ``b"C" + request``; the host relays it to the candidate, which runs in a
  different sandbox (another pid namespace: nothing to see, signal or trace), and relays the reply back,
  read here with `decode` (plain data only). The verdict goes out once, as ``b"V" + (status, detail)``.
  No model-written code ever runs in a tester's sandbox.

The host trusts neither of the first two: it compares values itself, counts the tests itself, and takes a
malformed, missing or extra message as a failure. Standard library only, minimal imports: start-up time
is on every verification's path.
"""

import builtins
import marshal
import os
import resource
import select
import struct
import sys
import time

import _ctypes
import _signal as signal  # the C module: `signal` would import enum & co (~3 ms per sandbox)

from srpo.sandbox.wire import HEADER, WireError, decode, encode, frame

CHANNEL = []  # [in, out]: the host's pipes, moved off 0 and 1 at start
PR_SET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 1, 3, 4, 22, 38
SECCOMP_MODE_FILTER = 2
# Exceptions that steer control flow in the code that catches them (a StopIteration raised inside
# ``all(map(candidate, xs))`` ends the iteration early and the ``all`` passes): never re-raised as such.
FLOW_CONTROL = ("StopIteration", "StopAsyncIteration", "GeneratorExit", "KeyboardInterrupt", "SystemExit")
MAX_FD = 1 << 20
_PRCTL = _ctypes.dlsym(_ctypes.dlopen(None), "prctl")  # `ctypes` itself would cost ~3 ms per sandbox


class _Byte(_ctypes._SimpleCData):
    _type_ = "B"


class CandidateGone(BaseException):
    """The candidate crashed, timed out or broke the protocol.

    A BaseException, so that ``except Exception`` in test code cannot swallow it.
    """


# ------------------------------------------------------------------------------------------ plumbing
def _prctl(*args):
    return _ctypes.call_function(_PRCTL, args)


def _read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv():
    """The next frame's payload from the host, or None when the host closed the channel."""
    head = _read_exact(CHANNEL[0], HEADER)
    return None if head is None else _read_exact(CHANNEL[0], int.from_bytes(head, "little"))


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _send(payload):
    _write_all(CHANNEL[1], frame(payload))


def _silence(*fds):
    null = os.open(os.devnull, os.O_RDWR)
    for fd in fds:
        os.dup2(null, fd)
    os.close(null)


def _exit_builtins():
    # -S skips `site`, which is what defines exit()/quit(); solutions call them, so provide both.
    def _exit(code=None):
        raise SystemExit(code)
    builtins.exit = builtins.quit = _exit


def _harden():
    """Non-dumpable: processes of the same user can neither ptrace this one nor open its /proc files
    (inherited by every child; an ``execve`` resets it, which is why /proc is also mounted read-only)."""
    if _prctl(PR_SET_DUMPABLE, 0) != 0 or _prctl(PR_GET_DUMPABLE) != 0:
        raise OSError("prctl(PR_SET_DUMPABLE, 0) failed")


def _confine(limits):
    """Limits for this process, before it runs untrusted or test code: rlimits, then the seccomp filter."""
    for name, soft, hard in limits["rlimits"]:
        res = getattr(resource, name)
        # An inherited hard limit stricter than ours stays (raising it would fail): never looser than asked.
        have = resource.getrlimit(res)[1]
        if have != resource.RLIM_INFINITY and have < hard:
            hard = have
        resource.setrlimit(res, (min(soft, hard), hard))
    filt = limits["seccomp"]
    if filt:
        prog = (_Byte * len(filt)).from_buffer_copy(filt)
        fprog = (_Byte * 16).from_buffer_copy(struct.pack("=HxxxxxxQ", len(filt) // 8, _ctypes.addressof(prog)))
        # bwrap sets no_new_privs already; unsafe mode needs it too (the kernel's condition for a filter)
        if _prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog) != 0:
            raise OSError("the kernel refused the seccomp filter")


def _exc_text(exc):
    try:
        return str(exc)[:2000]
    except BaseException:
        return "<unprintable>"


def _describe(exc):
    text, name = _exc_text(exc), type(exc).__name__
    return name + ": " + text if text else name


# -------------------------------------------------------------------------------- function: candidate
def serve_function(job):
    _confine(job["limits"])
    _silence(2)
    ns = {"__name__": "__solution__", "__builtins__": builtins}
    try:
        exec(compile(job["program"], "<solution>", "exec"), ns)
    except BaseException as exc:
        _send(encode(("load_error", _describe(exc))))
        return
    names = [k for k, v in list(ns.items()) if type(k) is str and not k.startswith("__") and callable(v)]
    _send(encode(("ready", names)))
    while True:
        request = _recv()
        if request is None:
            return
        name, args, kwargs = marshal.loads(request)
        _send(_call(ns, name, args, kwargs))


def _call(ns, name, args, kwargs):
    mutable = [a for a in args if type(a) in (list, dict, set)]
    before = encode(mutable)
    try:
        value = ns[name](*args, **kwargs)
    except BaseException as exc:
        return encode(("raise", type(exc).__name__, _builtin_base(exc), _exc_text(exc)))
    try:
        return encode(("ok", value, args) if encode(mutable) != before else ("ok", value))
    except BaseException:  # not plain data, nested too deeply, or too big to hold twice
        return encode(("bad", type(value).__name__))


def _builtin_base(exc):
    for cls in type(exc).__mro__:
        if getattr(builtins, cls.__name__, None) is cls:
            return cls.__name__
    return "BaseException"


# ------------------------------------------------------------------------------------------------ stdio
def serve_stdio(job):
    while True:
        request = _recv()
        if request is None:
            return
        _send(encode(_run_case(job, marshal.loads(request))))


def _run_case(job, stdin_text):
    fds = [_memfd(stdin_text.encode("utf-8")), _memfd(), _memfd()]
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            _stdio_child(job, fds)
        finally:
            os._exit(4)
    timed_out, status = _wait_exit(pid, start + job["timeout_s"])
    _kill_rest(job, pid)
    limit = job["max_output_bytes"]
    out, err = _read_prefix(fds[1], limit + 1), _read_prefix(fds[2], 2000)
    for fd in fds:
        os.close(fd)
    if timed_out:
        verdict, detail = "timeout", "time limit exceeded"
    elif len(out) > limit:
        verdict, detail = "error", "output exceeds %d bytes" % limit
    elif status != 0:
        verdict, detail = "error", _status_text(status)
    else:
        verdict, detail = "done", ""
    return verdict, out[:limit], err.decode("utf-8", "replace"), detail


def _stdio_child(job, fds):
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.closerange(3, MAX_FD)  # the channel and the memfds' originals
    os.setpgid(0, 0)
    if not job["pidns"]:
        _prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))  # unsafe mode: at least die with the runner
    _confine(job["limits"])
    import io
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8", errors="replace")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="replace")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
    code = 0
    try:
        exec(compile(job["program"], "<solution>", "exec"), {"__name__": "__main__", "__builtins__": builtins})
    except SystemExit as exc:
        if exc.code is None or type(exc.code) is int:
            code = exc.code or 0
        else:
            sys.stderr.write(str(exc.code) + "\n")
            code = 1
    except BaseException as exc:
        sys.stderr.write(_describe(exc) + "\n")
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        code = code or 1
    os._exit(code & 0xFF)


def _memfd(data=b""):
    fd = os.memfd_create("case")
    _write_all(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read_prefix(fd, limit):
    os.lseek(fd, 0, os.SEEK_SET)
    chunks, got = [], 0
    while got < limit:
        chunk = os.read(fd, min(1 << 20, limit - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _wait_exit(pid, deadline):
    """Wait for `pid` until `deadline`; kill it on expiry. Returns (timed_out, wait_status)."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return False, status
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                return True, os.waitpid(pid, 0)[1]
            select.select([pidfd], [], [], left)
    finally:
        os.close(pidfd)


def _kill_rest(job, pid):
    """Kill everything the case left behind (daemons included) and reap our own children."""
    try:
        if job["pidns"]:
            os.kill(-1, signal.SIGKILL)  # in our pid namespace: everyone but us and the namespace's init
        else:
            os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def _status_text(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        names = {signal.SIGXCPU: "CPU time limit", signal.SIGKILL: "killed (memory/CPU limit?)",
                 signal.SIGSEGV: "segmentation fault", signal.SIGXFSZ: "file size limit"}
        return "terminated by signal %d (%s)" % (sig, names.get(sig, "signal"))
    return "exit status %d" % os.WEXITSTATUS(status)


# ----------------------------------------------------------------------------------------------- tester
def serve_tester(job):
    _confine(job["limits"])
    _silence(2)
    status, detail = _run_test_code(job, _Link())
    _send(b"V" + encode((status, detail)))


class _Link:
    """The tester's way to the candidate: every call goes to the host, which relays it."""

    def __init__(self):
        self.gone = ""

    def call(self, name, args, kwargs):
        if self.gone:
            raise CandidateGone(self.gone)
        try:
            request = encode((name, args, kwargs))
        except ValueError:
            raise TypeError("test argument not transferable to the candidate (plain data only)") from None
        _send(b"C" + request)
        raw = _recv()
        if not raw:  # the host's word that the candidate crashed, timed out or sent garbage
            self.gone = "the candidate gave no valid reply"
            raise CandidateGone(self.gone)
        try:
            return self._result(decode(raw), args)
        except WireError as exc:
            self.gone = "malformed reply from the candidate: %s" % exc
            raise CandidateGone(self.gone) from None

    def _result(self, reply, args):
        kind = reply[0] if type(reply) is tuple and reply else None
        if kind == "ok" and len(reply) in (2, 3):
            if len(reply) == 3:
                _mirror(args, reply[2])
            return reply[1]
        if kind == "raise" and len(reply) == 4 and all(type(x) is str for x in reply[1:]):
            raise _candidate_exception(*reply[1:])
        if kind == "bad" and len(reply) == 2 and type(reply[1]) is str:
            raise TypeError("the candidate returned a %s, which is not plain data" % reply[1][:100])
        raise WireError("unexpected reply shape")


def _mirror(args, new_args):
    """Apply the candidate's in-place changes of top-level list/dict/set arguments to the test's objects."""
    if type(new_args) is not tuple or len(new_args) != len(args):
        return
    for old, new in zip(args, new_args):
        if type(old) is type(new) is list:
            old[:] = new
        elif type(old) is type(new) and type(old) in (dict, set):
            old.clear()
            old.update(new)


def _candidate_exception(name, base, text):
    """What a proxy raises for an exception of the candidate: its nearest built-in class (so that
    ``except ValueError`` in test code works), or RuntimeError for the flow-control ones and the rest."""
    message = text if name == base else "%s: %s" % (name[:100], text)
    cls = getattr(builtins, base, None)
    if base not in FLOW_CONTROL and isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except BaseException:  # classes whose constructor wants more (UnicodeDecodeError, ...)
            pass
    return RuntimeError("candidate raised %s: %s" % (base[:100], message))


class _Proxy:
    """Stands for one of the candidate's functions in the test code's namespace."""

    def __init__(self, link, name):
        self._link, self.__name__ = link, name

    def __call__(self, *args, **kwargs):
        return self._link.call(self.__name__, args, kwargs)

    def __repr__(self):
        return "<candidate function %s>" % self.__name__


def _run_test_code(job, link):
    ns = {"__name__": "__test__", "__builtins__": builtins}
    if job["prelude"]:
        try:
            exec(compile(job["prelude"], "<prelude>", "exec"), ns)
        except BaseException as exc:
            return "error", "prelude failed: " + _describe(exc)
    entry = job["entry_point"]
    for name in job["names"]:
        # Never in place of a builtin the test code calls: a top-level ``def abs(x): return 0`` would pass
        # ``assert abs(candidate(x) - y) < 1e-6``.
        if name == entry or (name not in ns and not hasattr(builtins, name)):
            ns[name] = _Proxy(link, name)
    try:
        exec(compile(job["test_code"], "<tests>", "exec"), ns)
        check = ns.get("check")
        if entry and callable(check):
            check(ns[entry])
    except BaseException as exc:
        return "fail", _failure_detail(exc, "<tests>")
    if link.gone:  # the test code swallowed the failure (a bare ``except:``)
        return "fail", link.gone
    return "pass", ""


def _failure_detail(exc, filename):
    """Point at the failing line of the test code, e.g. ``line 3: AssertionError``."""
    lineno, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    text = _describe(exc)
    return text if lineno is None else "line %d: %s" % (lineno, text)


ROLES = {"function": serve_function, "stdio": serve_stdio, "tester": serve_tester}


def main():
    CHANNEL[:] = [os.dup(0), os.dup(1)]
    _silence(0, 1)
    # Before anything else: non-dumpable, then the runner's own limits and filter (the first frame, sent by
    # the host when it starts the sandbox). Every process of the sandbox descends from this one and inherits
    # both, so from here on nothing in the sandbox is unconfined; each role then tightens them.
    _harden()
    setup = _recv()
    if setup is None:
        return
    _confine(marshal.loads(setup))
    _exit_builtins()
    job = _recv()
    if job is not None:
        job = marshal.loads(job)
        ROLES[job["role"]](job)


if __name__ == "__main__":
    main()
