"""Run a long, verbose build with its output in a log file and a short progress line on the
terminal: the compile-step count (ninja's `[12/345]`, make's `[ 37%]`) at most every
INTERVAL seconds, and a line at least every 20 s even when the build prints nothing new, so
no step of the first `make report` is silent. On failure the log's last lines are shown.

    python scripts/with_progress.py LABEL LOGFILE -- command args...

Standard library only: it runs before the venv has anything else in it. Exits with the
command's status.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

INTERVAL_S = 10.0
HEARTBEAT_S = 20.0  # under the 30 s a step may stay silent, with room for a slow tick
TAIL = 30
STEP = re.compile(rb"^\s*\[\s*(\d+)\s*/\s*(\d+)\s*\]")  # ninja
PERCENT = re.compile(rb"^\s*\[\s*(\d+)%\]")  # make


def progress_text(line: bytes) -> str | None:
    """The progress a build line shows, or None."""
    m = STEP.match(line)
    if m:
        done, total = int(m.group(1)), int(m.group(2))
        return f"{done}/{total} compile steps ({100 * done // max(1, total)}%)"
    m = PERCENT.match(line)
    return f"{int(m.group(1))}% of the build" if m else None


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    label, log_path, cmd = argv[0], argv[1], argv[3:]
    start = time.monotonic()
    state = {"said": 0.0, "latest": None, "lines": 0}
    lock = threading.Lock()

    def say(text: str) -> None:
        elapsed = int(time.monotonic() - start)
        print(f"[{label}] {text}, {elapsed // 60}m{elapsed % 60:02d}s", flush=True)
        state["said"] = time.monotonic()

    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(5.0):
            with lock:
                if time.monotonic() - state["said"] >= HEARTBEAT_S:
                    say(f"still building: {state['latest'] or 'no compile step yet'} ({state['lines']} lines in {log_path})")

    threading.Thread(target=heartbeat, daemon=True).start()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in proc.stdout:
            log.write(line)
            with lock:
                state["lines"] += 1
                text = progress_text(line)
                if text:
                    state["latest"] = text
                    if time.monotonic() - state["said"] >= INTERVAL_S:
                        say(text)
        status = proc.wait()
    done.set()
    if status == 0:
        say(f"done ({state['latest'] or 'no compile steps seen'})")
    else:
        with open(log_path, "rb") as log:
            tail = log.read().splitlines()[-TAIL:]
        say(f"failed with exit status {status}; the last {len(tail)} lines of {log_path}:")
        for line in tail:
            print("  " + line.decode("utf-8", "replace"), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
