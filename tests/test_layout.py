"""The layout matches DESIGN.md, and importing a package starts nothing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["foundation", "schemas", "producers", "detector", "stream_processors", "labstream"]

# what each package may import from the project (DESIGN.md "the rooms", docs/architecture.md);
# nobody but the composition root imports ``labstream``
ALLOWED = {
    "foundation": set(),
    "schemas": {"foundation"},
    "producers": {"schemas", "foundation"},
    "detector": {"schemas", "foundation"},
    "stream_processors": {"schemas", "detector", "foundation", "producers.scrub"},
    "labstream": set(PACKAGES),
}
# the ground floor's third-party imports: pydantic(-settings); the shared HTTP gate also fastapi/starlette
LEAF_THIRD_PARTY = {"pydantic", "pydantic_settings"}
LEAF_HTTP_GATE = {"fastapi", "starlette"}


def test_folders_exist() -> None:
    for name in [*PACKAGES, "deploy", "tests"]:
        assert (ROOT / name).is_dir(), name
    for name in ["pyproject.toml", "Makefile", "README.md", ".ci/run"]:
        assert (ROOT / name).is_file(), name


def _imports(path: Path) -> set[str]:
    """Every absolute module a file imports, at any depth (TYPE_CHECKING and function bodies too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _allowed(imp: str, allowed: set[str]) -> bool:
    return any(imp == a or imp.startswith(a + ".") for a in allowed)


def _violations(pkg: str, path: Path) -> list[str]:
    bad = []
    for imp in sorted(_imports(path)):
        top = imp.split(".")[0]
        if top in PACKAGES and top != pkg and not _allowed(imp, ALLOWED[pkg]):
            if "." in imp and _allowed(imp.rsplit(".", 1)[0], ALLOWED[pkg]):
                continue  # ``from producers.scrub import x``: the module is allowed, x is a name in it
            bad.append(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name} imports {imp}")
    return bad


def test_packages_import_only_what_design_allows() -> None:
    bad = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            bad += _violations(pkg, path)
    assert not bad, bad


def test_the_check_fails_on_a_forbidden_import(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text(
        "from labstream.broker import free_port\nimport producers.collector\nfrom producers.scrub import x\n",
        encoding="utf-8",
    )
    assert _violations("stream_processors", f) == [
        "m.py imports labstream.broker",
        "m.py imports labstream.broker.free_port",
        "m.py imports producers.collector",
    ]


def test_the_ground_floor_imports_only_pydantic_and_the_standard_library() -> None:
    bad = []
    for path in (ROOT / "foundation").rglob("*.py"):
        allowed = LEAF_THIRD_PARTY | (LEAF_HTTP_GATE if path.name == "api_guard.py" else set())
        for imp in _imports(path):
            top = imp.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__" or top == "foundation":
                continue
            if top not in allowed:
                bad.append(f"{path.relative_to(ROOT)} imports {imp}")
    assert not bad, bad


def test_importing_every_module_creates_no_app_producer_or_thread() -> None:
    code = r"""
import importlib, pkgutil, sys, threading
import faust, kafka, aiokafka
created = []
orig_app = faust.App.__init__
def app_init(self, *a, **k):
    created.append("faust.App"); orig_app(self, *a, **k)
faust.App.__init__ = app_init
for cls in (kafka.KafkaProducer, kafka.KafkaConsumer, aiokafka.AIOKafkaProducer, aiokafka.AIOKafkaConsumer):
    orig = cls.__init__
    def init(self, *a, _orig=orig, _name=cls.__name__, **k):
        created.append(_name); _orig(self, *a, **k)
    cls.__init__ = init
before = threading.active_count()
for pkg in ["foundation", "schemas", "producers", "detector", "stream_processors", "labstream"]:
    mod = importlib.import_module(pkg)
    for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
        importlib.import_module(info.name)
print("CREATED", created, "THREADS", threading.active_count() - before)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "CREATED [] THREADS 0" in out.stdout, out.stdout
