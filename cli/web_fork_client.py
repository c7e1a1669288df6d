"""One browser session's stand-in process (``onechain web``): asks the warmed console
template (``cli.web_fork``) to fork a console for it, then waits for that console.

textual-serve runs a command per browser and talks to it over the command's stdin and
stdout. Starting ``onechain tui`` for each meant importing everything anew (20 s and
more when twenty people opened the page together) and ~165 MiB each. This script is
the command instead: run with ``python -S`` (the standard library only, a few MiB),
it hands its stdin, stdout and stderr and its environment to the template over a
Unix socket; the template forks a console that uses them, sharing the template's
memory copy-on-write. The script passes signals on to the console, exits with its
exit code, and its own ending (killed) makes the template kill the console.

Standard library only, and no project imports: it runs without site-packages.
"""

import contextlib
import json
import os
import signal
import socket
import sys


def main() -> int:
    path, options = sys.argv[1], sys.argv[2:]
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        control.connect(path)
    except OSError as error:
        sys.stderr.write(f"onechain web: the console template at {path} is not there: {error}\n")
        return 1
    request = json.dumps({"env": dict(os.environ), "options": options}).encode()
    socket.send_fds(control, [request + b"\n"], [0, 1, 2])
    reader = control.makefile("rb")
    line = reader.readline()
    if not line:
        return 1
    pid = int(json.loads(line)["pid"])
    # Only the console holds the pipes now: it closing them is what the server sees.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    line = reader.readline()
    return int(json.loads(line)["code"]) if line else 1


if __name__ == "__main__":
    sys.exit(main())
