"""Test fixture: drops LD_PRELOAD and the library's settings from its environment and replaces
itself with an unguarded shell through a raw execve system call (which no interposer sees), and
that shell double-forks a sleeper whose parent (a subshell) waits. Nothing in it loads the library;
only the shell itself keeps the PR_SET_PDEATHSIG its starter armed. Prints "ready sleeper <pid>"."""
import ctypes
import os

SYS_EXECVE = 59  # x86_64

env = [f"{k}={v}".encode() for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("ORPHANGUARD_")]
argv = [b"/bin/sh", b"-c", b"(sleep 300 & echo ready sleeper $!; wait) & wait"]
libc = ctypes.CDLL(None, use_errno=True)
array = lambda items: (ctypes.c_char_p * (len(items) + 1))(*items, None)
libc.syscall(SYS_EXECVE, b"/bin/sh", array(argv), array(env))
raise OSError(ctypes.get_errno(), "execve")
