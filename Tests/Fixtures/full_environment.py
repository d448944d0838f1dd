"""Runs /bin/true with an explicit environment as large as the kernel accepts.

  full_environment.py largest             print the largest size (bytes of values) that still execs
  full_environment.py METHOD SIZE         run /bin/true with an environment of SIZE bytes by METHOD
                                          (execve, posix_spawn, subprocess); print its exit status,
                                          or "errno N" when the start itself failed
"""
import os
import subprocess
import sys

TRUE = "/bin/true"


def environment(size):
    env = {f"FILL{i:05d}": "x" * 1000 for i in range(size // 1000)}
    env["REST"] = "y" * (size % 1000 + 1)
    return env


def by_execve(env):
    pid = os.fork()
    if pid == 0:
        try:
            os.execve(TRUE, [TRUE], env)
        except OSError as error:
            os.write(2, f"errno {error.errno}\n".encode())
        os._exit(127)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def by_posix_spawn(env):
    pid = os.posix_spawn(TRUE, [TRUE], env)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def by_subprocess(env):
    return subprocess.run([TRUE], env=env).returncode


METHODS = {"execve": by_execve, "posix_spawn": by_posix_spawn, "subprocess": by_subprocess}


def largest():
    """Bisects on by_execve: the kernel's limit depends on RLIMIT_STACK, not on a constant."""
    low, high = 1000, 64 * 1024 * 1024
    while high - low > 1:
        middle = (low + high) // 2
        if by_execve(environment(middle)) == 0:
            low = middle
        else:
            high = middle
    return low


def main():
    if sys.argv[1] == "largest":
        print(largest())
        return
    try:
        print(METHODS[sys.argv[1]](environment(int(sys.argv[2]))))
    except OSError as error:
        print(f"errno {error.errno}")


if __name__ == "__main__":
    main()
