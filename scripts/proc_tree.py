"""Processes seen through /proc, for the scripts (stress, sanitize, torchrun-check): a process is
named by its pid and start time, so a reused pid is never taken for it; a zombie counts as gone."""
import time


def _stat_fields(pid):
    """The fields of /proc/PID/stat from the state on (the command name may hold spaces), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def state(pid, start):
    """The state letter (R, S, T, Z, ...) of the process, or None if it is gone or the pid was reused."""
    fields = _stat_fields(pid)
    return fields[0] if fields and int(fields[19]) == start else None


def alive(pid, start):
    return state(pid, start) not in (None, "Z", "X")


def start_time(pid):
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None
    except ValueError:
        return None


def _poll(condition, timeout):
    """Checks condition every 2 ms until it holds or timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return condition()


def wait_gone(pid, start, timeout):
    return _poll(lambda: not alive(pid, start), timeout)


def wait_stopped(pid, start, timeout):
    return _poll(lambda: state(pid, start) == "T", timeout)
