"""One sync from start to end: both sides read (at once where that pays), the plan, the questions
about large unknown objects, the transfers, the deletions, and the summary."""

from __future__ import annotations

import os
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from batchdeploy.errors import OperationError, UsageError
from batchdeploy.state import SYNC_UPLOADS
from batchdeploy.sync.calls import aws_call
from batchdeploy.sync.client import s3_client
from batchdeploy.sync.delete import delete_local, delete_remote
from batchdeploy.sync.exclude import Excluder, safe_relkey
from batchdeploy.sync.hashcache import MULTIPART_THRESHOLD, HashCache
from batchdeploy.sync.multipart import Uploads
from batchdeploy.sync.plan import Plan, make_plan
from batchdeploy.sync.progress import Progress
from batchdeploy.sync.remote import list_remote
from batchdeploy.sync.report import report_done, report_dry
from batchdeploy.sync.scan import Scan, hash_files, scan_local


class SyncRun:
    def __init__(self, ctx, opts):
        self.ctx = ctx
        self.opts = opts
        self.out = ctx.out
        self.excluder = Excluder(opts.excludes)
        self.stop = threading.Event()
        self.transfers = None
        self.uploads = None  # sync-to-s3's multipart journal (sync.multipart)
        self.stale = None  # its start-of-run sweep

    def warn(self, text: str) -> None:
        if self.transfers is not None:
            self.transfers.warn(text)
        else:
            self.out.warn(text)

    # -- set-up --------------------------------------------------------------------------------

    def check_local(self) -> None:
        o = self.opts
        if os.path.isdir(o.local):
            return
        if os.path.exists(o.local):
            raise UsageError(f"{o.local} is not a folder", hint="give --local a folder")
        if o.upload:
            hint = "create it, or set EXPERIMENTS_DIR / --local to the folder to upload"
            raise UsageError(f"local folder {o.local} does not exist", hint=hint)
        if not o.dry_run:
            try:
                os.makedirs(o.local, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"cannot create {o.local}: {exc.strerror}") from None

    def avoid(self) -> frozenset:
        """The state folder and the configuration file, if they sit inside the synced folder."""
        cfg = self.ctx.cfg
        paths = {str(cfg.state_dir())}
        if getattr(cfg, "env_file", None):
            paths.add(str(cfg.env_file))
        return frozenset(paths)

    def local_side(self):
        o = self.opts
        if os.path.isdir(o.local):
            scan = scan_local(o.local, self.excluder, self.warn, self.avoid())
        else:
            scan = Scan({}, set(), [], [])
        cache = HashCache(self.ctx.state.folder, os.path.realpath(o.local), o.remote)
        unreadable = list(scan.unreadable)
        if o.upload:
            unreadable += hash_files(scan.files, list(scan.files), cache, self.stop)
        return scan, cache, unreadable

    def both_sides(self):
        """(client, scan, cache, unreadable, remote, pages). The local side needs no AWS. A first
        upload of a folder hashes every file: that starts at once, beside the making of the S3 client
        (botocore's imports and model, ~0.3 s; hashlib lets go of the GIL). A repeat sync mostly reads
        its hash cache: that Python work would only slow the client down (one GIL), so it waits and
        runs while the listing waits on S3."""
        o = self.opts
        cache_path = HashCache.path_for(self.ctx.state.folder, os.path.realpath(o.local), o.remote)
        first = o.upload and not os.path.exists(cache_path)
        early = ThreadPoolExecutor(3, thread_name_prefix="sync-early")
        try:
            local_side = early.submit(self.local_side) if first else None
            client = s3_client(self.ctx.aws, o.jobs)
            listing = early.submit(list_remote, client, o.bucket, o.prefix)
            if o.upload and not o.dry_run:
                journal = HashCache.path_for(self.ctx.state.folder, os.path.realpath(o.local), o.remote, SYNC_UPLOADS)
                self.uploads = Uploads(journal, o, self.excluder)
                if self.uploads.journal.exists():  # before this run starts any upload of its own
                    self.stale = early.submit(self.uploads.stale, client)
            if local_side is None:
                local_side = early.submit(self.local_side)
            # A failed listing (no such bucket, access denied) is reported without waiting for the hashing.
            wait((listing, local_side), return_when=FIRST_EXCEPTION)
            if listing.done():
                listing.result()
            scan, cache, unreadable = local_side.result()
            remote, pages = listing.result()
        except BaseException:
            self.stop.set()  # the hashing stops at the next file; the error is not kept waiting
            early.shutdown(wait=False, cancel_futures=True)
            raise
        early.shutdown()
        return client, scan, cache, unreadable, remote, pages

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> int:
        o = self.opts
        started = self.ctx.clock()
        self.check_local()
        client, scan, cache, unreadable, remote, pages = self.both_sides()
        local = scan.files
        if not o.upload and not o.dry_run:
            remove_stale(scan.stale_tmp)  # a killed download's temporary files, before anything else
        self.report_stale()
        seen_etags = {r.etag for r in remote.values()}
        if not o.upload:
            need = [rel for rel, f in local.items() if rel in remote and remote[rel].size == f.st.st_size]
            unreadable += hash_files(local, need, cache, need_etag=False)
        refuse_unreadable(unreadable)
        remote = self.comparable(remote)
        source, target = (local, remote) if o.upload else (remote, local)
        plan = make_plan(source, target, o.upload, cache.etags, self.excluder, set(scan.skipped), o.delete)
        if plan.ask:
            self.ask(client, plan, local, remote, cache)
        nbytes = sum((local[r].st.st_size if o.upload else remote[r].size) for r in plan.copy)
        if o.dry_run:
            return report_dry(self.out, o, plan, nbytes)
        if plan.copy or plan.delete:
            where = (o.local, o.remote) if o.upload else (o.remote, o.local)
            self.out.note(f"{'upload' if o.upload else 'download'} {where[0]} -> {where[1]}")
        large = [o.key(r) for r in plan.copy if o.upload and local[r].st.st_size >= MULTIPART_THRESHOLD]
        if self.uploads is not None:
            self.uploads.begin(large)
        try:
            t = self.copy(client, plan, local, remote, cache, nbytes, seen_etags)
        finally:
            if self.uploads is not None:
                self.sweep_parts(client, large)
        if plan.delete:
            deleted = (
                delete_remote(client, o, plan.delete, self.out, self.warn)
                if o.upload
                else delete_local(o, plan.delete, local, cache, self.out)
            )
        else:
            deleted = 0
        cache.save(seen_etags | t.new_etags)
        seconds = self.ctx.clock() - started
        report_done(self.out, o, t.copied, t.copied_bytes, deleted, plan.unchanged, pages, seconds)
        return 0

    def report_stale(self) -> None:
        """What the start-of-run sweep did: said once both sides are known (a missing bucket is the
        listing's error alone)."""
        if self.stale is None:
            return
        for line in self.uploads.problems:
            self.warn(line)
        aborted = self.stale.result()
        if aborted:
            self.out.note(f"aborted {aborted} multipart upload(s) an earlier run left open in {self.opts.remote}")

    def sweep_parts(self, client, keys: list[str]) -> None:
        """Abort what a lost CreateMultipartUpload answer left open (sync.multipart)."""
        aborted = self.uploads.end(client, keys, self.warn)
        if aborted:
            self.out.note(f"aborted {aborted} multipart upload(s) left open by a lost CreateMultipartUpload answer")

    def comparable(self, remote: dict) -> dict:
        """The objects that take part: excluded keys never do; a download also leaves out keys that
        cannot be local file names (with a warning)."""
        if self.opts.upload:
            return {rel: r for rel, r in remote.items() if not self.excluder.excluded(rel)}
        for rel in list(remote):
            if self.excluder.excluded(rel):
                del remote[rel]
            elif not safe_relkey(rel):
                self.warn(f"{self.opts.key(rel)}: the key cannot be a local file name; skipped")
                del remote[rel]
        return remote

    def ask(self, client, plan: Plan, local, remote, cache) -> None:
        """Large objects whose ETag we have never seen: one HEAD each, the stored sha256 decides."""
        o = self.opts

        def head(rel):
            with aws_call(f"read the metadata of {o.key(rel)}", o.bucket):
                h = client.head_object(Bucket=o.bucket, Key=o.key(rel))
            return rel, h.get("ETag", "").strip('"'), (h.get("Metadata") or {}).get("sha256")

        with ThreadPoolExecutor(o.jobs) as pool:
            for rel, etag, sha in pool.map(head, plan.ask):
                if sha and etag == remote[rel].etag:
                    cache.learn(etag, sha)
                if sha and sha == local[rel].sha256 and etag == remote[rel].etag:
                    plan.unchanged += 1
                else:
                    plan.copy.append(rel)
        plan.copy.sort()
        plan.ask = []

    def copy(self, client, plan: Plan, local, remote, cache, nbytes: int, seen_etags):
        """Every transfer of the plan; an OperationError (nothing deleted) when any failed."""
        from batchdeploy.sync.transfer import Transfers

        t = self.transfers = Transfers(self.ctx.aws, self.opts, self.out, self.stop)
        t.progress = Progress(self.out, len(plan.copy), nbytes, clock=self.ctx.clock, verbose=self.opts.verbose)
        try:  # SIGTERM arrives here as KeyboardInterrupt (cli.main), so this clean-up runs for it too
            t.run(client, plan.copy, local, remote, cache)
        finally:
            t.progress.close()
            cache.save(seen_etags | t.new_etags)
        if t.failures:
            first = t.failures[0]
            more = f" (and {len(t.failures) - 1} more, listed above)" if len(t.failures) > 1 else ""
            untried = len(plan.copy) - len(t.failures) - len(t.copied)
            if untried > 0:
                more += f"; {untried:,} more not tried after that"
            raise OperationError(
                f"{len(t.failures)} of {len(plan.copy)} transfers failed: {first}{more}",
                hint="nothing was deleted; run again to retry (what did copy is kept)",
            )
        return t


def refuse_unreadable(unreadable: list[tuple[str, str]]) -> None:
    if not unreadable:
        return
    shown = "; ".join(f"{rel}: {why}" for rel, why in unreadable[:5])
    more = f" (and {len(unreadable) - 5} more)" if len(unreadable) > 5 else ""
    raise UsageError(
        f"cannot read {len(unreadable)} local path{'s' if len(unreadable) > 1 else ''}: {shown}{more}",
        hint="fix the permissions or --exclude them; nothing was copied or deleted",
    )


def remove_stale(paths: list[str]) -> None:
    """Temporary files left by a download that was killed (SIGKILL, power loss)."""
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass
