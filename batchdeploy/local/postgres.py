"""PostgreSQL beside the local AWS Batch (issue #25): the database triage's chapter puts on RDS.

Debian's own server binaries (`postgresql`), run as a part of the stack like the others: a cluster of
its own in <state>/postgres (initdb once, on first `up --postgres`), listening on 127.0.0.1 only at a
free port recorded in run/postgres.port, no unix socket, password authentication (scram-sha-256) for
its one superuser. The system's own clusters (/etc/postgresql, /var/lib/postgresql) are never touched:
no pg_ctlcluster, no file under /etc.

The password is made once per cluster and kept in conf/postgres.password (mode 0600), with a
conf/pgpass file (libpq's PGPASSFILE) beside it; `env` points at those files and never prints the value.

The server refuses to run as root. Run by root, it runs as the `postgres` system user (the package
makes it); when that user cannot reach the state folder (a parent such as /root is closed to others),
the server gets CAP_DAC_READ_SEARCH for that, and nothing else.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
from pathlib import Path

from batchdeploy.errors import ConfigError, OperationError
from batchdeploy.local.supervise import LOOPBACK, proc_starttime, read_text, trace
from batchdeploy.state import atomic_write

PART = "postgres"
USER = "batchdeploy"  # the cluster's superuser, and its database
DATABASE = "batchdeploy"
SYSTEM_USER = "postgres"
BINARIES = Path("/usr/lib/postgresql")
INSTALL = "apt-get install postgresql"
TRUE = ("1", "yes", "true", "on")
FALSE = ("", "0", "no", "false", "off")


def wanted_by(value: str | None) -> bool:
    """LOCAL_POSTGRES / BATCHDEPLOY_LOCAL_POSTGRES: yes, true, 1 or on ask for the database."""
    word = (value or "").strip().lower()
    if word not in TRUE + FALSE:
        raise ConfigError(f"LOCAL_POSTGRES={value}: say yes or no")
    return word in TRUE


def bindir(environ: dict) -> Path:
    """BATCHDEPLOY_POSTGRES_BIN, else Debian's newest /usr/lib/postgresql/N/bin, else the PATH's."""
    named = environ.get("BATCHDEPLOY_POSTGRES_BIN")
    candidates = [Path(named)] if named else sorted(
        BINARIES.glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    if not named and shutil.which("postgres"):
        candidates.append(Path(shutil.which("postgres")).resolve().parent)
    for folder in candidates:
        if all(os.access(folder / tool, os.X_OK) for tool in ("postgres", "initdb", "pg_isready", "psql")):
            return folder
    where = f"BATCHDEPLOY_POSTGRES_BIN={named} has no postgres, initdb, pg_isready and psql" if named else \
        "no PostgreSQL server found (postgres, initdb, pg_isready, psql)"
    raise ConfigError(f"{where}: {INSTALL}")


class Server:
    """The cluster in `folder` (<state>/postgres), its password in `conf`, its port in `run`."""

    def __init__(self, state: Path, bin: Path, uid: int = -1):
        self.folder = state / "postgres"
        self.data = self.folder / "data"
        self.password_file = state / "conf" / "postgres.password"
        self.pgpass = state / "conf" / "pgpass"
        self.port_file = state / "run" / "postgres.port"
        self.bin = bin
        self.uid = os.geteuid() if uid == -1 else uid

    # -- who runs it ------------------------------------------------------------------------------

    def account(self) -> pwd.struct_passwd | None:
        """The system user the server runs as when we are root; None: it runs as us."""
        if self.uid != 0:
            return None
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise ConfigError(f"PostgreSQL refuses to run as root and there is no '{SYSTEM_USER}' user: {INSTALL}") from None

    def as_server(self, argv: list[str]) -> list[str]:
        """`argv` run as the server's user: setpriv drops root (no shell, no PAM, no /etc change)."""
        user = self.account()
        if user is None:
            return argv
        drop = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
        if not self._reachable(drop):
            drop += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        return [*drop, *argv]

    def _reachable(self, drop: list[str]) -> bool:
        done = subprocess.run([*drop, "test", "-x", str(self.folder)], capture_output=True, check=False)
        return done.returncode == 0

    # -- the cluster ------------------------------------------------------------------------------

    @property
    def port(self) -> str:
        return read_text(self.port_file)

    def password(self) -> str:
        return read_text(self.password_file)

    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").is_file()

    def ensure_cluster(self, log: Path) -> None:
        """initdb once. A cluster half made by a killed initdb (no PG_VERSION) is made again; the
        password file is written before initdb reads it, so cluster and file always agree."""
        if self.initialised():
            return
        shutil.rmtree(self.data, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        password = self.password() or secrets.token_urlsafe(24)
        atomic_write(self.password_file, password + "\n", mode=0o600)
        user = self.account()
        # initdb reads the password from a file its own user can read: inside the postgres-owned folder.
        pwfile = self.folder / ".pwfile"
        if user is not None:
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        os.chmod(self.folder, 0o700)
        try:
            atomic_write(pwfile, password + "\n", mode=0o600)
            if user is not None:
                os.chown(pwfile, user.pw_uid, user.pw_gid)
            argv = self.as_server([
                str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
            ])
            trace(*argv)
            with open(log, "ab") as out:
                done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=False)
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            raise OperationError(f"initdb failed to make the local PostgreSQL cluster (log: {log})")
        self._write_pgpass()

    def running_pid(self) -> int | None:
        """The server already running on this cluster (its postmaster.pid names a live process whose
        command line is ours): what an `up` killed between starting it and recording its pid leaves."""
        first = read_text(self.data / "postmaster.pid").split("\n", 1)[0].strip()
        if not first.isdigit() or proc_starttime(int(first)) is None:
            return None
        try:
            argv = Path(f"/proc/{first}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        return int(first) if str(self.data).encode() in argv else None

    def clear_stale_lock(self) -> None:
        """A killed server leaves postmaster.pid behind; the server removes it itself when that pid is
        gone, but not when it is a zombie nobody reaped (this machine's init may never). A lock whose
        process is gone or a zombie is removed; a live one is left for the server to refuse."""
        lock = self.data / "postmaster.pid"
        first = read_text(lock).split("\n", 1)[0].strip()
        if first.isdigit() and proc_starttime(int(first)) is None:
            trace("stale", lock, first)
            lock.unlink(missing_ok=True)

    def _write_pgpass(self) -> None:
        escaped = re.sub(r"([:\\])", r"\\\1", self.password())
        atomic_write(self.pgpass, f"{LOOPBACK}:*:*:{USER}:{escaped}\n", mode=0o600)

    def command(self) -> list[str]:
        return self.as_server([
            str(self.bin / "postgres"), "-D", str(self.data), "-p", self.port,
            "-c", f"listen_addresses={LOOPBACK}", "-c", "unix_socket_directories=",
            # no statement is logged (none can carry a password into the log); failed logins are
            "-c", "log_statement=none", "-c", "log_min_error_statement=panic",
        ])

    def answers(self) -> bool:
        if not self.port:
            return False
        done = subprocess.run(
            [str(self.bin / "pg_isready"), "-q", "-h", LOOPBACK, "-p", self.port, "-U", USER, "-d", "postgres", "-t", "2"],
            capture_output=True, check=False, timeout=10,
        )
        return done.returncode == 0

    def ensure_database(self, log: Path) -> None:
        """The database `env` names, made on the first start (initdb makes only `postgres`)."""
        env = {**os.environ, "PGPASSFILE": str(self.pgpass), "PGCONNECT_TIMEOUT": "10"}
        base = [str(self.bin / "psql"), "-X", "-q", "-At", "-h", LOOPBACK, "-p", self.port, "-U", USER, "-d", "postgres"]
        have = subprocess.run([*base, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"],
                              capture_output=True, text=True, env=env, check=False, timeout=60)
        if have.returncode == 0 and have.stdout.strip() == "1":
            return
        with open(log, "ab") as out:
            done = subprocess.run([*base, "-c", f"CREATE DATABASE {DATABASE}"], stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, env=env, check=False, timeout=60)
        if done.returncode != 0:
            raise OperationError(f"cannot create the database {DATABASE} in the local PostgreSQL (log: {log})")

    def where(self) -> str:
        return f"postgresql://{USER}@{LOOPBACK}:{self.port}/{DATABASE}"

    def exports(self) -> list[tuple[str, str]]:
        """The connection keys: libpq's PG* (psql needs nothing else) and BATCHDEPLOY_POSTGRES_*,
        which a project's configuration reads as POSTGRES_* (env-overrides.json, SECRETS)."""
        keys = [("HOST", LOOPBACK), ("PORT", self.port), ("USER", USER), ("DB", DATABASE)]
        libpq = {"DB": "PGDATABASE"}
        return [
            *((f"BATCHDEPLOY_POSTGRES_{k}", v) for k, v in keys),
            *((libpq.get(k, f"PG{k}"), v) for k, v in keys),
            ("PGPASSFILE", str(self.pgpass)),
        ]

    def password_export(self) -> str:
        """The password as a line a shell runs: read from its file when sourced, never printed."""
        quoted = "'" + str(self.password_file).replace("'", "'\\''") + "'"
        return f'export BATCHDEPLOY_POSTGRES_PASSWORD="$(cat {quoted})"\n'
