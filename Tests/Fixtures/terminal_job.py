"""Test fixture: plays an interactive shell on a new pseudo-terminal. It runs `argv[1:]` as a job
in its own foreground process group, types Ctrl-Z, brings the job back with SIGCONT (fg), then
types Ctrl-C. Prints one line per observation, so a test can compare a command with and without
the launcher:
  stopped <True|False>   the job stopped after Ctrl-Z (as the shell sees it with WUNTRACED)
  status <n>             the job's exit status (128+N for signal N) after Ctrl-C
"""
import os
import pty
import signal
import sys
import time


def wait_job(job, flags, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status = os.waitpid(job, flags | os.WNOHANG)
        if pid:
            return status
        time.sleep(0.01)
    return None


def shell(report):
    """Runs in the pty session: starts the job like a job-control shell, reports what it sees."""
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    ready_r, ready_w = os.pipe()
    job = os.fork()
    if job == 0:
        os.setpgid(0, 0)
        os.tcsetpgrp(0, os.getpgrp())
        signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        os.close(ready_r)
        os.dup2(ready_w, 3)
        os.execv(sys.argv[1], sys.argv[1:])
    os.setpgid(job, job)
    os.close(ready_w)
    os.read(ready_r, 1)  # the job writes to fd 3 once it runs
    os.write(report, b"ready\n")
    status = wait_job(job, os.WUNTRACED, 5)
    os.write(report, f"stopped {status is not None and os.WIFSTOPPED(status)}\n".encode())
    os.tcsetpgrp(0, job)
    os.killpg(job, signal.SIGCONT)
    time.sleep(0.2)
    os.write(report, b"continued\n")
    status = wait_job(job, 0, 10)
    code = "timeout" if status is None else os.waitstatus_to_exitcode(status)
    if isinstance(code, int) and code < 0:
        code = 128 - code
    os.write(report, f"status {code}\n".encode())
    os._exit(0)


def main():
    report_r, report_w = os.pipe()
    pid, master = pty.fork()
    if pid == 0:
        os.close(report_r)
        shell(report_w)
    os.close(report_w)
    lines = os.fdopen(report_r)
    for line in lines:
        line = line.strip()
        if line == "ready":
            time.sleep(0.2)
            os.write(master, b"\x1a")  # Ctrl-Z
        elif line == "continued":
            os.write(master, b"\x03")  # Ctrl-C
        else:
            print(line, flush=True)
        if line.startswith("status"):
            break
    os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
