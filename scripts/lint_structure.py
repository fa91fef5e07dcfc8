"""Structure checks of `make lint` that no off-the-shelf linter does (tests/test_lint.py runs them too):

- `length`: no function longer than 60 lines (def line to last line) outside tests;
- `private`: no import of another package's private names (`from ingest.findings import _Default`,
  `from pgserver import _commands`, `landing._land` on a module of another package);
- `policy`: no copy of a policy number of dbt_project/seeds/policy_parameters.csv in Python: a name bound to
  a number literal that carries a parameter's name (`DEFAULT_PRIOR_MISMATCH_TOLERANCE = Decimal("0.01")`), or
  shares a word of it and holds its value (`GROWTH_LOW = Decimal(-50)` beside growth_outlier_min_pct = -50).
  The seed's values alone are not searched for: 0.01, 100 or 3 stand for other things too (a rounding
  tolerance, a percentage, a quarter), so a search by value cannot tell a copy from a coincidence.

    python -m scripts.lint_structure [length|private|policy ...]   one `file:line: message` per violation; exit 1 if any
"""

from __future__ import annotations

import ast
import csv
import sys
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the project's packages (the folders `make lint` reads; `tests` is free)
PACKAGES = ("core", "ingest", "expectations", "publish", "ops", "portal", "samplegen", "scripts", "dags")
MAX_FUNCTION_LINES = 60
POLICY_SEED = ROOT / "dbt_project" / "seeds" / "policy_parameters.csv"


def python_files(root: Path = ROOT) -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted(p for p in (root / package).rglob("*.py") if "__pycache__" not in p.parts)


def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _where(path: Path, node: ast.AST, root: Path) -> str:
    return f"{path.relative_to(root)}:{node.lineno}"


def long_functions(path: Path, tree: ast.Module, root: Path = ROOT) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                out.append(f"{_where(path, node, root)}: {node.name} is {lines} lines (at most {MAX_FUNCTION_LINES})")
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _imported_modules(tree: ast.Module, own: str) -> dict[str, str]:
    """Local names bound to modules of other packages: {local name: module}."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if _top(a.name) != own:
                    bound[a.asname or _top(a.name)] = a.name if a.asname else _top(a.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _top(node.module) != own:
            for a in node.names:
                bound[a.asname or a.name] = f"{node.module}.{a.name}"
    return bound


def private_imports(path: Path, tree: ast.Module, root: Path = ROOT) -> list[str]:
    """Private names of other packages (the project's or a library's) imported or read as attributes."""
    own = path.relative_to(root).parts[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _top(node.module) != own:
            names = [*node.module.split("."), *(a.name for a in node.names)]
            out += [f"{_where(path, node, root)}: imports {n} from {node.module}" for n in names if _private(n)]
        elif isinstance(node, ast.Import):
            out += [f"{_where(path, node, root)}: imports {a.name}" for a in node.names
                    if _top(a.name) != own and any(_private(p) for p in a.name.split("."))]
    modules = _imported_modules(tree, own)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            out.append(f"{_where(path, node, root)}: reads {modules[node.value.id]}.{node.attr}")
    return out


def policy_parameters(seed: Path = POLICY_SEED) -> dict[str, str]:
    with open(seed, encoding="utf-8", newline="") as f:
        return {row["parameter"]: row["value"] for row in csv.DictReader(f)}


# words that say what kind of number a parameter is, not which rule it belongs to
_GENERIC_WORDS = {"min", "max", "pct", "default", "share", "of", "per", "years", "year", "quarters", "days", "value"}


def _number(node: ast.AST) -> Decimal | None:
    """The value of a number literal, also as Decimal("0.01"), Decimal(-50), float("0.6"); else None."""
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        node = node.args[0]
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _bindings(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """(name, value) of `NAME = value`, `A, B = x, y` and `NAME: T = value`."""
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        pairs = [(node.target, node.value)]
    elif isinstance(node, ast.Assign):
        pairs = [(t, node.value) for t in node.targets]
    else:
        return
    for target, value in pairs:
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
            pairs += list(zip(target.elts, value.elts, strict=True))
        elif isinstance(target, ast.Name | ast.Attribute):
            yield getattr(target, "id", getattr(target, "attr", "")), value


def _copies(name: str, value: Decimal, parameter: str, seeded: str) -> bool:
    """A name that carries the parameter's name, or shares a word of it and holds the seed's value."""
    if parameter in name.lower():
        return True
    words = set(parameter.split("_")) - _GENERIC_WORDS
    return bool(words & set(name.lower().split("_"))) and value == Decimal(seeded)


def policy_copies(path: Path, tree: ast.Module, root: Path = ROOT, parameters: dict[str, str] | None = None) -> list[str]:
    parameters = policy_parameters() if parameters is None else parameters
    out = []
    for node in ast.walk(tree):
        for name, value_node in _bindings(node):
            value = _number(value_node)
            if value is None:
                continue
            out += [f"{_where(path, node, root)}: {name} copies the seed's {p} ({v}): read it through core.registry"
                    for p, v in parameters.items() if _copies(name, value, p, v)]
    return out


CHECKS = {"length": long_functions, "private": private_imports, "policy": policy_copies}


def violations(checks: list[str], root: Path = ROOT) -> list[str]:
    out = []
    for path in python_files(root):
        tree = _parsed(path)
        for check in checks:
            out += CHECKS[check](path, tree, root)
    return out


def main(argv: list[str] | None = None) -> int:
    checks = (argv if argv is not None else sys.argv[1:]) or list(CHECKS)
    unknown = set(checks) - set(CHECKS)
    if unknown:
        print(f"unknown check(s): {', '.join(sorted(unknown))}; known: {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    found = violations(checks)
    for line in found:
        print(line)
    print(f"{len(found)} structure violation(s) ({', '.join(checks)})", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
