"""What has been changed so far: each change said as it happens, recorded in .batchdeploy/infra.json
(`delete` finds what `create` made by it), and named in the error when a run stops half-way."""

from __future__ import annotations

from batchdeploy.errors import OperationError
from batchdeploy.infra.model import LABEL
from batchdeploy.state import INFRA, iso


class Journal:
    """What has been changed so far, so a failure half-way leaves nothing unknown."""

    def __init__(self, out, state, prefix: str, verb: str):
        self.out = out
        self.state = state
        self.prefix = prefix
        self.verb = verb
        self.done: list[str] = []
        self.items: list[dict] = []

    def record(self, op: str, kind: str, name: str, arn: str | None = None, text: str | None = None) -> None:
        self.done.append(text or f"{op} {LABEL[kind]} {name}")
        self.items.append({"op": op, "kind": kind, "name": name, "arn": arn})
        self.out.note(f"  {op} {LABEL[kind]} {name}")
        self._state(op, kind, name, arn)

    def _state(self, op, kind, name, arn):
        data = self.state.read(INFRA) or {}
        mine = data.setdefault("prefixes", {}).setdefault(self.prefix, {})
        entries = mine.setdefault(kind, {})
        if op in ("deleted", "deregistered"):
            entries.pop(name, None)
            if not entries:
                mine.pop(kind, None)
            if not mine:
                data["prefixes"].pop(self.prefix, None)
        elif op == "created" or name not in entries:
            entries[name] = {"arn": arn, "at": iso()}
        self.state.write(INFRA, data)

    def run(self, work) -> None:
        """`work()`; a failure or an interrupt says what was done before it."""
        try:
            work()
        except OperationError as exc:
            raise self.failed(exc) from None
        except KeyboardInterrupt:
            self.out.warn(f"interrupted; done so far: {'; '.join(self.done) or 'nothing'}{self._undo()}")
            raise

    def _undo(self) -> str:
        """How to remove what a create made before it stopped, when it made anything."""
        if self.verb != "create" or not any(i["op"] in ("created", "registered") for i in self.items):
            return ""
        return f"; or remove what it made: --delete --prefix {self.prefix}"

    def failed(self, exc: OperationError) -> OperationError:
        so_far = ", ".join(self.done) if self.done else "nothing"
        nxt = f"fix the cause and run {self.verb} again (it picks up where this stopped)"
        hint = (exc.hint or nxt) + self._undo()
        return OperationError(f"{exc.message} (done before the failure: {so_far})", hint=hint)
