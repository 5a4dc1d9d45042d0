"""Named points where tests kill the analyzer with SIGKILL (fault injection).

`GLASS_CRASH_AT=<name>` makes the process kill -9 itself when it reaches
`crash_point(<name>)`. The points sit at the edges of the exactly-once
protocol (see analyze/store.py), where a crash is hardest to survive; the
crash tests also kill at random moments from outside. Unset, a crash point
costs one string comparison.
"""

import os
import signal

_ARMED = os.environ.get("GLASS_CRASH_AT")


def armed(name: str) -> bool:
    return name == _ARMED


def crash_point(name: str) -> None:
    if name == _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
