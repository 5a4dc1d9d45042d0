"""Named points where tests kill compaction with SIGKILL (fault injection).

`GLASS_CRASH_AT=<name>` makes the process kill -9 itself when it reaches
`crash_point(<name>)`: the steps of compressing one file in
`capture/compact.py`, where a crash is hardest to survive. The crash tests
also kill at random moments from outside. Unset, a crash point costs one
string comparison. (The analyzer has its own, analyze/crashpoints.py: the
stages do not import each other.)
"""

import os
import signal

_ARMED = os.environ.get("GLASS_CRASH_AT")


def crash_point(name: str) -> None:
    if name == _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
