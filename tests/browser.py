"""Open a page in a real headless browser (Debian's chromium) with no network: a screenshot, the DOM
after its scripts ran, and the console's errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# No request leaves the machine: every host name fails to resolve, background services are off.
QUIET = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--metrics-recording-only", "--no-default-browser-check",
         "--disable-default-apps", "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
         "--enable-logging=stderr", "--v=0"]


@dataclass
class Opened:
    dom: str
    screenshot: Path
    console_errors: list[str]


def chromium() -> str:
    exe = shutil.which("chromium")
    assert exe, "chromium is missing: scripts/install-system-deps.sh installs it (apt-get install chromium)"
    return exe


def open_page(page: Path, work: Path, size: str = "1280,2400") -> Opened:
    work.mkdir(parents=True, exist_ok=True)
    base = [chromium(), *QUIET, f"--user-data-dir={work / 'profile'}", f"--window-size={size}"]
    shot = work / "screenshot.png"
    done = subprocess.run([*base, f"--screenshot={shot}", page.resolve().as_uri()], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    dumped = subprocess.run([*base, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    errors = [line for line in (done.stderr + dumped.stderr).splitlines()
              if re.search(r"CONSOLE\(\d+\)|Uncaught|SyntaxError|ReferenceError|TypeError", line)]
    return Opened(dom=dumped.stdout, screenshot=shot, console_errors=errors)
