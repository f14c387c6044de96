"""Every rule's conda env pins what its script imports, and needs no path to the repository.

The imports are collected statically (every import statement of the script and, transitively,
of the project modules it imports, including those inside functions), so the check is cheap and
needs no conda. It over-approximates: a package imported on a branch the rule never takes is
still required.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_helpers import REPO

PROJECT = "workflow_scripts"
# Packages a call loads by name rather than by an import statement (xarray's I/O backends).
IMPLICIT = {"open_zarr": {"zarr", "dask"}, "to_zarr": {"zarr", "dask"}, "h5netcdf": {"h5netcdf"}}
# Loads the workflow (default config, every experiment on) and prints each rule's env and
# script; a subprocess, since Snakemake's API changes the working directory.
# Snakemake has no public accessor of the parsed rules: `_workflow` is its own property.
LIST_RULES = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, ResourceSettings

with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(), snakefile=Path(sys.argv[1]), workdir=Path(sys.argv[2])
    )._workflow
    rules = [(r.name, r.conda_env, r.script, str(r.basedir)) for r in workflow.rules]
print(json.dumps(rules))
"""


def rule_envs() -> dict[str, tuple[Path | None, Path]]:
    """rule name -> (its conda env file, its script), for every rule with a script, as the
    workflow itself lists them: the figure rules generated in a loop, too."""
    listed = subprocess.run(
        [sys.executable, "-c", LIST_RULES, str(REPO / "Snakefile"), str(REPO)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]
    return {
        name: (Path(basedir, conda) if conda else None, Path(basedir, script))
        for name, conda, script, basedir in json.loads(listed)
        if script
    }


def module_file(module: str) -> Path | None:
    path = REPO.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imports_of(script: Path) -> set[str]:
    """Top-level third-party modules imported by ``script`` and the project modules it uses."""
    third_party: set[str] = set()
    seen: set[Path] = set()
    pending = [script]
    while pending:
        source = pending.pop()
        if source in seen:
            continue
        seen.add(source)
        for node in ast.walk(ast.parse(source.read_text())):
            used = node.attr if isinstance(node, ast.Attribute) else getattr(node, "value", None)
            if isinstance(used, str) and used in IMPLICIT:
                third_party |= IMPLICIT[used]
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == PROJECT:
                    found = module_file(name)
                    if found is not None:
                        pending.append(found)
                elif (script.parent / f"{top}.py").exists():  # beside the script: on its path
                    pending.append(script.parent / f"{top}.py")
                elif top not in sys.stdlib_module_names:
                    third_party.add(top)
    return third_party


def normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def pinned(env_file: Path) -> dict[str, str]:
    """Distribution -> the exact version the env file pins (pip section)."""
    dependencies = yaml.safe_load(env_file.read_text())["dependencies"]
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d)
    pins = {}
    for requirement in pip:
        name, _, version = requirement.partition("==")
        assert version, f"{env_file.name}: {requirement!r} is not pinned to one version"
        pins[normalise(name)] = version
    return pins


RULES = rule_envs()


def test_every_rule_with_a_script_has_an_env():
    assert {"train", "evaluate", "simulate_shear_flow", "regrid_shear_flow"} <= set(RULES)
    assert {"figure_oscillator_pareto", "figure_shear_flow_rollout"} <= set(RULES)
    assert not [rule for rule, (env, _) in RULES.items() if env is None]


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_env_pins_every_package_its_script_imports(rule):
    env_file, script = RULES[rule]
    assert env_file is not None, f"rule {rule} has no conda env"
    distributions = importlib.metadata.packages_distributions()
    pins = pinned(env_file)
    providers = {module: distributions.get(module, [module]) for module in imports_of(script)}
    missing = {
        module: names
        for module, names in providers.items()
        if not any(normalise(name) in pins for name in names)
    }
    assert not missing, f"{env_file.name} (rule {rule}) lacks {missing}"


def test_rule_scripts_find_the_checkout_without_an_installed_package(tmp_path):
    # -S: no site-packages, so no installed workflow_scripts; as in a conda env pinning only
    # third-party packages, the scripts' directory is all Snakemake puts on the path.
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import checkout_on_path, workflow_scripts; "
        "print(workflow_scripts.__file__)"
    )
    scripts = REPO / "workflow_scripts" / "scripts"
    found = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(scripts)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).resolve() == (REPO / "workflow_scripts" / "__init__.py").resolve()
    for script in scripts.glob("*.py"):
        if script.name not in ("__init__.py", "checkout_on_path.py"):
            assert "import checkout_on_path" in script.read_text(), script.name
