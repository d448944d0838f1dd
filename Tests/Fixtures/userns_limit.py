"""Test fixture: runs a command in a new user namespace whose user.max_user_namespaces is 0, so
nothing inside may create another user namespace, without touching the machine's own setting
(the limit is per user namespace). Root and nobody are mapped to themselves; the command starts as
root there and may drop to nobody (setpriv). Needs root.

  userns_limit.py CMD [ARGS...]
"""
import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000

libc = ctypes.CDLL(None, use_errno=True)
ready_r, ready_w = os.pipe()
mapped_r, mapped_w = os.pipe()
child = os.fork()
if child == 0:
    if libc.unshare(CLONE_NEWUSER) != 0:
        os.write(2, f"userns_limit: unshare: {os.strerror(ctypes.get_errno())}\n".encode())
        os._exit(2)
    os.write(ready_w, b"u")
    os.read(mapped_r, 1)
    os.setgid(0)
    os.setuid(0)
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")
    os.execvp(sys.argv[1], sys.argv[1:])
os.read(ready_r, 1)
# From outside, as root: the child's maps may name more than its own ids.
for name in ("uid_map", "gid_map"):
    with open(f"/proc/{child}/{name}", "w") as f:
        f.write("0 0 1\n65534 65534 1\n")
os.write(mapped_w, b"m")
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
