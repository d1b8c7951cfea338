"""The in-sandbox judge: runs one untrusted program against its tests and reports to the host.

This file is NOT imported by srpo. Its source is handed to ``python -I -S -B -c`` inside the sandbox, so it
uses the standard library only and keeps imports minimal (startup time is on every verification's path).

Two processes inside one sandbox, so the program can never forge its own verdict:

* the *judge* (this code, trusted) reads the job from fd 0, writes the result to fd 1, and runs the tests;
* the *candidate* (a fork of the judge, which then runs the untrusted program) has fd 1 closed and talks
  to the judge only through a private pipe pair.

Function tests (``kind == "function"``) call the candidate's functions through proxies: arguments and
return values cross the pipe with ``marshal`` and the judge accepts only exact built-in data types
(None, bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset). An object whose
``__eq__`` always says True, an early ``exit(0)``, a patched ``builtins``/``assert`` helper or a redefined
``check`` all stay inside the candidate's process and cannot reach the judge's namespace. The judge also
makes itself non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``) so the candidate, which runs as the same user,
cannot ptrace it or read its memory through /proc.

Stdio tests (``kind == "stdio"``) run the program once per case in a fresh fork whose stdin/stdout/stderr
are anonymous memory files; the judge returns the raw stdout and the host compares it with the expected
output (which never enters the sandbox).

Protocol: job = ``marshal`` dict on fd 0 (read to EOF); result = 8-byte little-endian length, then a
``marshal`` dict, on fd 1.
"""

import builtins
import marshal
import os
import resource
import select
import sys
import time

import _signal as signal  # the C module: `signal` would import enum & co (~3 ms per sandbox)

PLAIN_SCALARS = (type(None), bool, int, float, complex, str, bytes)
PLAIN_CONTAINERS = (list, tuple, dict, set, frozenset)
MAX_DEPTH = 200
SAFE_EXCEPTIONS = {
    name for name, obj in vars(builtins).items()
    if isinstance(obj, type) and issubclass(obj, Exception)
}


class CandidateGone(BaseException):
    """The candidate process timed out, crashed or broke the protocol.

    A BaseException so that a test's ``except Exception`` cannot swallow it.
    """


class CandidateTimeout(CandidateGone):
    """The wall-clock budget ran out while waiting for the candidate."""


def _exit_builtins():
    # -S skips `site`, which is what defines exit()/quit(); solutions call them, so provide both.
    def _exit(code=None):
        raise SystemExit(code)
    builtins.exit = builtins.quit = _exit


PRCTL = []


def _prctl(*args):
    return PRCTL[0](PRCTL[1], args)


def _harden():
    """Make the judge non-dumpable: same-uid processes can then neither ptrace it nor open /proc/<pid>/mem.

    Uses the `_ctypes` core directly: importing the `ctypes` package would cost ~3 ms on every sandbox.
    """
    import _ctypes
    PRCTL[:] = [_ctypes.call_function, _ctypes.dlsym(_ctypes.dlopen(None), "prctl")]
    if _prctl(4, 0, 0, 0, 0) != 0 or _prctl(3, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE=4, PR_GET_DUMPABLE=3
        raise OSError("prctl(PR_SET_DUMPABLE, 0) failed")


def _read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _set_limits(limits, extra_procs):
    """Apply rlimits to the calling process (the candidate, right after fork)."""
    def lim(res, value):
        if value is not None and value > 0:
            resource.setrlimit(res, (value, value))
    lim(resource.RLIMIT_AS, limits.get("memory_bytes"))
    cpu = limits.get("cpu_s")
    if cpu:
        # soft limit sends SIGXCPU, the hard limit one second later SIGKILL
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 1))
    procs = limits.get("max_procs")
    if procs:
        lim(resource.RLIMIT_NPROC, procs + extra_procs)
    lim(resource.RLIMIT_FSIZE, limits.get("file_bytes"))
    lim(resource.RLIMIT_NOFILE, limits.get("open_files"))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _exc_text(exc):
    try:
        return str(exc)[:2000]
    except BaseException:
        return "<unprintable>"


def _describe(exc):
    text, name = _exc_text(exc), type(exc).__name__
    return name + ": " + text if text else name


def _check_plain(value, depth=0):
    """Raise TypeError unless `value` is built from exact plain built-in types only."""
    if depth > MAX_DEPTH:
        raise TypeError("value nested too deeply")
    t = type(value)
    if t in PLAIN_SCALARS:
        return
    if t not in PLAIN_CONTAINERS:
        raise TypeError("candidate returned a non-plain value of type " + t.__name__)
    if t is dict:
        for k, v in value.items():
            _check_plain(k, depth + 1)
            _check_plain(v, depth + 1)
    else:
        for item in value:
            _check_plain(item, depth + 1)


# ----------------------------------------------------------------------------------------------- pipes
def _send(fd, obj):
    data = marshal.dumps(obj)
    _write_all(fd, len(data).to_bytes(8, "little") + data)


def _recv_exact(fd, n, deadline):
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise CandidateTimeout("time limit exceeded")
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _recv(fd, deadline, max_bytes):
    head = _recv_exact(fd, 8, deadline)
    if head is None:
        return None
    n = int.from_bytes(head, "little")
    if n > max_bytes:
        raise CandidateGone("reply of %d bytes exceeds the output limit" % n)
    body = _recv_exact(fd, n, deadline)
    if body is None:
        return None
    return marshal.loads(body)


# ------------------------------------------------------------------------------------------- processes
def _close_fds_except(keep):
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def _wait_exit(pid, deadline):
    """Wait for `pid` until `deadline`; kill it on expiry. Returns (timed_out, wait_status)."""
    timed_out = False
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        if pidfd is not None:
            select.select([pidfd], [], [], left)
        else:
            time.sleep(min(left, 0.002))
    if pidfd is not None:
        os.close(pidfd)
    return timed_out, status


def _kill_rest(job, pid):
    """Kill everything the candidate left behind (daemons included) and reap our own children."""
    if job.get("pidns"):
        # Inside our own pid namespace: -1 reaches every process we may signal except ourselves and pid 1.
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break


def _status_text(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        names = {signal.SIGXCPU: "CPU time limit", signal.SIGKILL: "killed (memory/CPU limit?)",
                 signal.SIGSEGV: "segmentation fault", signal.SIGXFSZ: "file size limit"}
        return "terminated by signal %d (%s)" % (sig, names.get(sig, "signal"))
    return "exit status %d" % os.WEXITSTATUS(status)


def _enter_candidate(job, keep):
    """Common start of every candidate fork: drop the judge's channels, new process group, limits."""
    _close_fds_except(keep)
    os.setpgid(0, 0)
    if not job.get("pidns"):
        # No pid namespace (unsafe mode): at least die with the judge (PR_SET_PDEATHSIG = 1).
        _prctl(1, int(signal.SIGKILL), 0, 0, 0)
    _set_limits(job["limits"], extra_procs=2 if job.get("pidns") else 0)


# --------------------------------------------------------------------------------------- function tests
def _candidate_function(job, req_r, rep_w, max_bytes):
    """Child side of function tests: load the program, then serve calls until the pipe closes."""
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    _enter_candidate(job, keep={req_r, rep_w})
    ns = {"__name__": "__solution__", "__builtins__": builtins}
    try:
        exec(compile(job["program"], "<solution>", "exec"), ns)
    except BaseException as exc:
        _send(rep_w, ("load_error", _describe(exc)))
        os._exit(1)
    names = [k for k, v in list(ns.items()) if not k.startswith("__") and callable(v)]
    _send(rep_w, ("ready", names))
    while True:
        msg = _recv(req_r, None, max_bytes)
        if msg is None:
            os._exit(0)
        name, args, kwargs = msg
        try:
            value = ns[name](*args, **kwargs)
        except BaseException as exc:
            reply = ("raise", type(exc).__name__, _exc_text(exc))
        else:
            try:
                marshal.dumps((value, args))
                reply = ("ok", value, args)
            except (ValueError, TypeError):
                try:
                    marshal.dumps(value)
                    reply = ("ok", value, None)
                except (ValueError, TypeError):
                    reply = ("bad", type(value).__name__)
        try:
            _send(rep_w, reply)
        except BaseException:
            os._exit(3)


def _update_in_place(original, new):
    """Mirror an in-place mutation made by the candidate onto the judge's own argument object."""
    if type(original) is not type(new):
        return
    if type(original) is list:
        original[:] = new
    elif type(original) in (dict, set):
        original.clear()
        original.update(new)


class _Link:
    """The judge's end of the candidate's pipes, with the verification's deadline."""

    def __init__(self, job, deadline):
        self.job, self.deadline = job, deadline
        self.max_bytes = job["max_output_bytes"]
        req_r, self.req_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.req_w)
                os.close(self.rep_r)
                _candidate_function(job, req_r, rep_w, self.max_bytes)
            finally:
                os._exit(4)
        os.close(req_r)
        os.close(rep_w)
        self.dead = None

    def recv(self):
        if self.dead:
            raise CandidateGone(self.dead)
        try:
            msg = _recv(self.rep_r, self.deadline, self.max_bytes)
        except CandidateTimeout:
            self.dead = "time limit exceeded"
            self.kill()
            raise
        except CandidateGone as exc:
            self.dead = str(exc)
            self.kill()
            raise
        except Exception as exc:
            self.dead = "malformed reply from the candidate: " + _describe(exc)
            self.kill()
            raise CandidateGone(self.dead) from None
        if msg is None:
            self.dead = "candidate process ended (" + self._reap() + ")"
            raise CandidateGone(self.dead)
        return msg

    def call(self, name, args, kwargs):
        try:
            data = marshal.dumps((name, args, kwargs))
        except ValueError:
            raise TypeError("test argument not transferable to the candidate process") from None
        if self.dead:
            raise CandidateGone(self.dead)
        try:
            _write_all(self.req_w, len(data).to_bytes(8, "little") + data)
        except OSError:
            self.dead = "candidate process ended (" + self._reap() + ")"
            raise CandidateGone(self.dead) from None
        reply = self.recv()
        if type(reply) is not tuple or not reply:
            raise CandidateGone("malformed reply from the candidate")
        if reply[0] == "ok" and len(reply) == 3:
            _, value, new_args = reply
            _check_plain(value)
            if type(new_args) is tuple and len(new_args) == len(args):
                _check_plain(new_args)
                for old, new in zip(args, new_args):
                    _update_in_place(old, new)
            return value
        if reply[0] == "raise" and len(reply) == 3 and type(reply[1]) is str and type(reply[2]) is str:
            cls = getattr(builtins, reply[1], None) if reply[1] in SAFE_EXCEPTIONS else None
            if cls is not None:
                raise cls(reply[2])
            raise RuntimeError("%s: %s" % (reply[1][:100], reply[2]))
        if reply[0] == "bad" and len(reply) == 2 and type(reply[1]) is str:
            raise TypeError("candidate returned a value of type %s, which is not plain data" % reply[1][:100])
        raise CandidateGone("malformed reply from the candidate")

    def _reap(self):
        try:
            done, status = os.waitpid(self.pid, 0)
            return _status_text(status)
        except ChildProcessError:
            return "already reaped"

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass


class _Proxy:
    """Stands for one of the candidate's functions in the judge's namespace."""

    def __init__(self, link, name):
        self._link, self.__name__ = link, name

    def __call__(self, *args, **kwargs):
        return self._link.call(self.__name__, args, kwargs)

    def __repr__(self):
        return "<candidate function %s>" % self.__name__


def _failure_detail(exc, filename):
    """Point at the failing line of the test code, e.g. ``line 3: assert f(2) == 4``."""
    lineno, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    text = _describe(exc)
    if lineno is not None:
        return "line %d: %s" % (lineno, text)
    return text


def _run_function(job):
    deadline = time.monotonic() + job["timeout_s"]
    link = _Link(job, deadline)
    try:
        return _function_tests(job, link)
    finally:
        link.kill()
        _kill_rest(job, link.pid)


def _function_tests(job, link):
    try:
        first = link.recv()
    except CandidateTimeout:
        return {"load_error": "time limit exceeded while loading the program", "load_timeout": True,
                "tests": []}
    except CandidateGone as exc:
        return {"load_error": str(exc), "tests": []}
    if type(first) is not tuple or len(first) != 2 or first[0] not in ("ready", "load_error"):
        return {"load_error": "malformed reply from the candidate", "tests": []}
    if first[0] == "load_error":
        return {"load_error": str(first[1])[:2000], "tests": []}
    names = [n for n in first[1] if type(n) is str] if type(first[1]) is list else []
    entry = job.get("entry_point")
    if entry and entry not in names:
        return {"load_error": "the program does not define %s()" % entry, "tests": []}
    tests = [_run_case(link, entry, i, args) for i, args in enumerate(job.get("calls") or [])]
    if job.get("test_code"):
        tests.append(_run_test_code(job, link, names, entry))
    return {"tests": tests}


def _run_case(link, entry, i, args):
    name = "case %d" % i
    try:
        value = link.call(entry, tuple(args), {})
    except CandidateTimeout:
        return {"name": name, "status": "timeout", "detail": "time limit exceeded"}
    except BaseException as exc:
        return {"name": name, "status": "error", "detail": _describe(exc)}
    return {"name": name, "status": "done", "value": value}


def _run_test_code(job, link, names, entry):
    ns = {"__name__": "__test__", "__builtins__": builtins}
    if job.get("prelude"):
        try:
            exec(compile(job["prelude"], "<prelude>", "exec"), ns)
        except BaseException as exc:
            return {"name": "test_code", "status": "error", "detail": "prelude failed: " + _describe(exc)}
    for name in names:
        if name == entry or name not in ns:
            ns[name] = _Proxy(link, name)
    try:
        exec(compile(job["test_code"], "<tests>", "exec"), ns)
        check = ns.get("check")
        if entry and callable(check):
            check(ns[entry])
    except CandidateTimeout:
        return {"name": "test_code", "status": "timeout", "detail": "time limit exceeded"}
    except BaseException as exc:
        return {"name": "test_code", "status": "fail", "detail": _failure_detail(exc, "<tests>")}
    return {"name": "test_code", "status": "pass"}


# ------------------------------------------------------------------------------------------ stdio tests
def _memfd(name, data=b""):
    fd = os.memfd_create(name)
    if data:
        _write_all(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _candidate_stdio(job, fd_in, fd_out, fd_err):
    os.dup2(fd_in, 0)
    os.dup2(fd_out, 1)
    os.dup2(fd_err, 2)
    _enter_candidate(job, keep=set())
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


def _run_stdio(job):
    tests = []
    limit = job["max_output_bytes"]
    for i, text in enumerate(job.get("stdins") or []):
        fd_in = _memfd("in", text.encode("utf-8"))
        fd_out, fd_err = _memfd("out"), _memfd("err")
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                _candidate_stdio(job, fd_in, fd_out, fd_err)
            finally:
                os._exit(4)
        timed_out, status = _wait_exit(pid, start + job["timeout_s"])
        _kill_rest(job, pid)
        out = _read_prefix(fd_out, limit + 1)
        err = _read_prefix(fd_err, 2000)
        for fd in (fd_in, fd_out, fd_err):
            os.close(fd)
        test = {"name": "case %d" % i, "stdout": out[:limit].decode("utf-8", "replace"),
                "stderr": err.decode("utf-8", "replace"), "seconds": round(time.monotonic() - start, 4)}
        if timed_out:
            test.update(status="timeout", detail="time limit exceeded")
        elif len(out) > limit:
            test.update(status="error", detail="output exceeds %d bytes" % limit)
        elif status != 0:
            test.update(status="error", detail=_status_text(status))
        else:
            test.update(status="done")
        tests.append(test)
    return {"tests": tests}


def main():
    _exit_builtins()
    try:
        _harden()
    except BaseException as exc:
        _report({"fatal": "cannot harden the judge: " + _describe(exc)})
        return
    job = marshal.loads(_read_all(0))
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        result = _run_stdio(job) if job["kind"] == "stdio" else _run_function(job)
    except BaseException as exc:
        result = {"fatal": "judge error: " + _describe(exc)}
    _report(result)


def _report(result):
    """Length-prefixed, so the host can stop reading (and kill the sandbox) as soon as it is complete."""
    data = marshal.dumps(result)
    _write_all(1, len(data).to_bytes(8, "little") + data)


main()
