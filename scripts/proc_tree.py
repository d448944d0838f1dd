"""Processes seen through /proc, for the scripts (stress, sanitize): a process is named by its pid
and start time, so a reused pid is never taken for it; a zombie counts as gone."""
import time


def alive(pid, start):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return False
    fields = text[text.rindex(")") + 2:].split()
    return fields[0] not in "ZX" and int(fields[19]) == start


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
