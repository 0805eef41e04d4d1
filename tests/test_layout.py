"""The layout matches DESIGN.md, and importing a package starts nothing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["schemas", "producers", "detector", "stream_processors", "labstream"]

# what each package may import from the project (DESIGN.md "the rooms")
ALLOWED = {
    "schemas": set(),
    "producers": {"schemas", "labstream"},
    "detector": {"schemas", "labstream"},
    "stream_processors": {"schemas", "detector", "producers", "labstream"},
    "labstream": set(PACKAGES),
}


def test_folders_exist() -> None:
    for name in [*PACKAGES, "deploy", "tests"]:
        assert (ROOT / name).is_dir(), name
    for name in ["pyproject.toml", "Makefile", "README.md", ".ci/run"]:
        assert (ROOT / name).is_file(), name


def _project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_packages_import_only_what_design_allows() -> None:
    bad = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for imp in _project_imports(path) - ALLOWED[pkg] - {pkg}:
                bad.append(f"{path.relative_to(ROOT)} imports {imp}")
    # labstream.exceptions/settings are the shared root: producers/detector may use them
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
for pkg in ["schemas", "producers", "detector", "stream_processors", "labstream"]:
    mod = importlib.import_module(pkg)
    for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
        importlib.import_module(info.name)
print("CREATED", created, "THREADS", threading.active_count() - before)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "CREATED [] THREADS 0" in out.stdout, out.stdout
