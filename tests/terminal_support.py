"""What the unit tests of the live views share: a stream that says whether it is a terminal, a clock
the test moves by hand, and the escape codes a terminal view writes."""

from __future__ import annotations

import io
import re

ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# An SGR escape that sets a colour (foreground, background, bright, 256/true colour); bold is not one.
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


class Stream(io.StringIO):
    """A text stream that is a terminal when `tty`."""

    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


class Clock:
    """Time that moves only when the test sets `now`."""

    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self):
        return self.now
