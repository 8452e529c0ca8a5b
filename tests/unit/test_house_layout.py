"""The house's shape, checked over batchdeploy/ (issue #12): small modules and functions, shared facts
below the capabilities, no import cycles, no sideways imports between capabilities."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "batchdeploy"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# One package per capability; each may use the shared modules below it, never another capability.
CAPABILITIES = {"jobs", "images", "sync", "infra", "local", "sweeps", "bags", "pipelines", "functions", "doctor", "report",
                "init"}
# Capabilities built on another: a sweep is a run (the same checks, credentials, record, submit).
# The doctor is below jobs and sweeps: their --wait and -r's preflight call it; it imports neither.
BUILT_ON = {"sweeps": {"jobs", "doctor"}, "bags": {"jobs", "sweeps", "sync", "infra", "doctor"}, "pipelines": {"jobs", "sweeps", "doctor"},
            "functions": {"jobs", "sweeps", "images"}, "jobs": {"doctor"},
            "report": {"jobs", "sweeps", "pipelines"}}  # a report reads runs (jobs), sweeps and pipelines (their tasks)
# The top: it names every verb's module (as strings, imported on use) and may import any of them.
TOP = {"batchdeploy.cli", "batchdeploy.__main__"}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path) -> set[str]:
    """Every batchdeploy module `name` imports, at any depth of its code (lazy imports count)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    known = modules()
    return {m for m in found if m in known and m != name}


def capability(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in CAPABILITIES else None


def test_no_module_is_over_the_limit():
    big = {n: len(p.read_text().splitlines()) for n, p in modules().items()}
    assert {n: lines for n, lines in big.items() if lines > MAX_MODULE_LINES} == {}


def test_no_function_is_over_the_limit():
    long = {}
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{name}.{node.name}"] = length
    assert long == {}


def test_capabilities_import_only_themselves_and_what_lies_below():
    sideways = {}
    for name, path in modules().items():
        if name in TOP:
            continue
        mine = capability(name)
        allowed = {None, mine, *BUILT_ON.get(mine, ())}
        bad = sorted(m for m in imports(name, path) if capability(m) not in allowed)
        if bad:
            sideways[name] = bad
    assert sideways == {}


def test_shared_modules_never_import_a_capability():
    up = {}
    for name, path in modules().items():
        if name in TOP or capability(name):
            continue
        bad = sorted(m for m in imports(name, path) if capability(m))
        if bad:
            up[name] = bad
    assert up == {}


def test_the_import_graph_has_no_cycle():
    graph = {name: imports(name, path) for name, path in modules().items()}
    # A package's __init__ re-exporting its own modules is not a cycle of meaning; drop those edges.
    for name in graph:
        graph[name] = {m for m in graph[name] if not (m.startswith(name + ".") and modules()[name].name == "__init__.py")}
    seen, on_path, cycles = set(), [], []

    def visit(node):
        if node in on_path:
            cycles.append(on_path[on_path.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        on_path.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        on_path.pop()

    for node in sorted(graph):
        visit(node)
    assert cycles == []
