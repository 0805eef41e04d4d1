"""deploy/Dockerfile installs LabStream the way CI does, and .dockerignore keeps the build clean."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field

from tests.deploy.queries import DEPLOY_DIR, REPO_ROOT

DOCKERFILE = DEPLOY_DIR / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def _stages() -> list[Stage]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical = re.sub(r"\\\n", " ", text)  # join continuation lines
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], parts[0])
            stages.append(Stage(base, parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None))
        else:
            stages[-1].instructions.append((keyword, rest))
    return stages


def _pip_installs(commands: list[str]) -> list[list[str]]:
    """Every `pip install` in shell commands, as argv without pip's output-only flags."""
    quiet = {"--quiet", "-q", "--disable-pip-version-check", "--no-cache-dir"}
    found = []
    for command in commands:
        for part in re.split(r"&&|;", command):
            argv = [a for a in shlex.split(part) if a not in quiet]
            if "pip" in argv and "install" in argv:
                found.append(argv[argv.index("install") :])
    return found


def _makefile_installs() -> list[list[str]]:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^\$\(STAMP\):.*?\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "Makefile has no $(STAMP) install recipe"
    return _pip_installs([line.strip().replace("$(PY)", "python") for line in recipe.group(1).splitlines()])


def test_multi_stage_on_python_311_slim() -> None:
    stages = _stages()
    assert len(stages) >= 2
    assert stages[0].name == "builder"
    assert stages[-1].base == "python:3.11-slim"
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.11"


def test_builder_installs_the_repo_as_ci_does_without_dev_extras() -> None:
    builder = _stages()[0]
    ci = _makefile_installs()
    image = _pip_installs(builder.all("RUN"))
    # CI: upgrade pip, then an editable install with the dev extras. The image: the same two
    # steps, the project itself not editable and without dev tools.
    assert ci == [["install", "--upgrade", "pip"], ["install", "-e", ".[dev]"]], ci
    assert image == [["install", "--upgrade", "pip"], ["install", "."]], image
    # `.` must be the repository: the whole context is copied to the working directory first.
    [workdir] = builder.all("WORKDIR")
    copies = [c.split() for c in builder.all("COPY")]
    assert [".", workdir] in copies
    assert any("venv" in run for run in builder.all("RUN"))


def test_final_stage_runs_the_labstream_entrypoint_as_non_root() -> None:
    final = _stages()[-1]
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert "labstream" in scripts
    assert json.loads(final.all("ENTRYPOINT")[-1]) == ["labstream"]
    assert json.loads(final.all("CMD")[-1]) == ["worker"]
    [user] = final.all("USER")
    assert user.split(":")[0] not in {"root", "0"}
    assert any(c.startswith("--from=builder ") for c in final.all("COPY"))
    assert not any(kw == "RUN" and "pip install" in args for kw, args in final.instructions)
    env = " ".join(final.all("ENV"))
    assert "LABSTREAM_WORKER_WEB_HOST=0.0.0.0" in env  # reachable by Prometheus, not just loopback


def test_healthcheck_polls_health_with_python_urllib() -> None:
    [check] = _stages()[-1].all("HEALTHCHECK")
    assert "CMD" in check and "urllib.request" in check and "/health" in check
    assert "curl" not in check and "wget" not in check  # python:3.11-slim has neither


def test_dockerignore_keeps_the_context_clean_but_installable() -> None:
    patterns = {
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git"} <= patterns
    # What `pip install .` needs must stay in the context.
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {"pyproject.toml", pyproject["project"]["readme"]}
    needed |= {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert not needed & patterns
    assert not any(p in {"*", "**", "*.py", "**/*.py", "*.toml"} for p in patterns)
