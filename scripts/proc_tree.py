"""Processes seen through /proc, for the scripts (stress, sanitize): a process is named by its pid
and start time, so a reused pid is never taken for it; a zombie counts as gone."""
import time


def state(pid, start):
    """The state letter (R, S, T, Z, ...) of the process, or None if it is gone or the pid was reused."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0] if int(fields[19]) == start else None


def alive(pid, start):
    return state(pid, start) not in (None, "Z", "X")


def start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
        return int(text[text.rindex(")") + 2:].split()[19])
    except (OSError, ValueError):
        return None


def wait_gone(pid, start, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid, start):
            return True
        time.sleep(0.002)
    return not alive(pid, start)


def wait_stopped(pid, start, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state(pid, start) == "T":
            return True
        time.sleep(0.002)
    return False
