"""Deployment files: one set of process commands, a hardened image, a valid compose file."""

from __future__ import annotations

import json
import re
import shlex
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "beat")
LONG_RUNNING = ("postgres", "redis", "web", "worker", "beat", "metabase-db", "metabase", "bigquery")


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for instruction, argument in _dockerfile_instructions():
        if instruction == "FROM":
            current = []
            stages[argument.split()[-1]] = current
        current.append((instruction, argument))
    return stages


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env_example_names() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", text, re.M))


# --- process commands -----------------------------------------------------------------------


def test_procfile_runs_each_role_through_serve_sh():
    assert _procfile() == {role: f"scripts/serve.sh {role}" for role in ("web", "worker", "beat")}


def test_serve_sh_knows_each_role_and_keeps_the_benchmarked_web_options():
    script = (ROOT / "scripts/serve.sh").read_text()

    for role in ("web", "worker", "beat"):
        assert re.search(rf"^\s+{role}\)$", script, re.M), role
    assert "exec gunicorn apaygate.asgi:application -c apaygate/gunicorn_conf.py" in script
    assert "exec celery -A apaygate worker" in script
    assert "exec celery -A apaygate beat" in script
    assert (ROOT / "scripts/serve.sh").stat().st_mode & 0o111


# --- image ----------------------------------------------------------------------------------


def test_image_is_multi_stage_on_slim_python():
    stages = _stages()

    assert list(stages)[-1] == "runtime", "the runtime stage must be the default target"
    assert len(stages) >= 2
    for instructions in stages.values():
        # Each stage starts from the slim image or from an earlier stage.
        assert instructions[0][1].split()[0] in {"python:3.11-slim", *stages}


def test_image_runs_as_an_unprivileged_user():
    runtime = _stages()["runtime"]
    users = [argument for instruction, argument in runtime if instruction == "USER"]

    assert users and users[-1] not in ("root", "0", "0:0")


def test_image_installs_the_locked_runtime_set_only():
    build = " ".join(argument for _, argument in _stages()["build"])

    assert "uv sync --locked --no-dev" in build
    assert "requirements" not in build


def test_image_collects_static_files_with_a_build_only_secret():
    runs = [argument for instruction, argument in _stages()["build"] if instruction == "RUN"]
    collect = [run for run in runs if "collectstatic --noinput" in run]

    assert len(collect) == 1 and collect[0].startswith("SECRET_KEY=")
    env = " ".join(arg for instruction, arg in _dockerfile_instructions() if instruction == "ENV")
    assert "SECRET_KEY" not in env


def test_image_checks_its_health_on_healthz():
    runtime = _stages()["runtime"]
    checks = [argument for instruction, argument in runtime if instruction == "HEALTHCHECK"]

    assert len(checks) == 1
    assert "deploy/healthcheck.py" in checks[0]
    assert "/healthz" in (ROOT / "deploy/healthcheck.py").read_text()


def test_image_command_is_the_procfile_web_command():
    runtime = dict(_stages()["runtime"])
    command = json.loads(runtime["ENTRYPOINT"]) + json.loads(runtime["CMD"])

    assert command == shlex.split(_procfile()["web"])


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())

    for entry in (".venv", ".git", ".run", ".env", "*.sqlite3", "node_modules",
                  "sdk/*/node_modules", "test-output"):  # fmt: skip
        assert entry in ignored, entry


# --- compose --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_schema() -> dict:
    # The Compose Specification's schema, as the check-jsonschema package ships it.
    schema = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(schema.read_text())


def test_compose_file_follows_the_compose_specification(compose_schema):
    compose = _compose()

    jsonschema.validators.validator_for(compose_schema)(compose_schema).validate(compose)


def test_compose_schema_rejects_a_broken_file(compose_schema):
    broken = {"services": {"web": {"image": "x", "restart": "sometimes", "portz": [1]}}}

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema)


def test_compose_app_services_read_only_documented_variables():
    # Variables of the third-party images (POSTGRES_*, MB_*) are theirs, not the gateway's.
    services = _compose()["services"]
    documented = _env_example_names()

    for name in APP_SERVICES:
        missing = set(services[name].get("environment", {})) - documented
        assert not missing, f"{name}: add {sorted(missing)} to .env.example"


def test_compose_images_are_pinned():
    for name, service in _compose()["services"].items():
        image = service.get("image", "")
        if "build" in service:
            continue
        tag = image.rsplit(":", 1)[-1] if ":" in image else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image}"


def test_compose_long_running_services_restart():
    services = _compose()["services"]

    for name in LONG_RUNNING:
        assert services[name].get("restart") in ("always", "unless-stopped"), name
    assert services["migrate"].get("restart") == "no"


def test_compose_app_roles_run_serve_sh_and_wait_for_migrations():
    services = _compose()["services"]
    entrypoint = json.loads(dict(_stages()["runtime"])["ENTRYPOINT"])

    for role in ("web", "worker", "beat"):
        assert entrypoint + services[role]["command"] == shlex.split(_procfile()[role])
        assert services[role]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_compose_redis_is_durable_and_never_evicts():
    command = " ".join(_compose()["services"]["redis"]["command"])

    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command


def test_compose_bigquery_emulator_is_an_optional_profile():
    service = _compose()["services"]["bigquery"]

    assert service["profiles"] == ["bigquery"]
    assert service["build"]["target"] == "bigquery-emulator"
    assert "bigquery-emulator" in _stages()


def test_compose_requires_env_file():
    # Without .env there is no SECRET_KEY: nothing would start (issue 24, item 6).
    for name in APP_SERVICES:
        assert _compose()["services"][name]["env_file"] == [".env"]


def test_compose_migrates_with_the_image_role_and_stops_with_a_grace_period():
    services = _compose()["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert "entrypoint" not in services["migrate"]
    for name in ("web", "worker", "shopper"):
        seconds = int(services[name]["stop_grace_period"].removesuffix("s"))
        assert seconds >= 30, name  # gunicorn's 20 s graceful timeout, a 15 s postback


def test_compose_serves_https_through_the_proxy_only():
    services = _compose()["services"]
    assert services["proxy"]["build"]["target"] == "proxy"
    assert "./deploy/proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]
    assert "443:443" in services["proxy"]["ports"]
    assert "ports" not in services["web"] and "ports" not in services["shopper"]
    assert services["web"]["environment"]["AXES_PROXY_COUNT"] == "1"


# --- make image-test's compose overlay and stand-ins ----------------------------------------


class _OverlayLoader(yaml.SafeLoader):
    """Reads Compose's `!override` / `!reset` tags as the plain values they carry."""


_OverlayLoader.add_multi_constructor(
    "!",
    lambda loader, _tag, node: (
        loader.construct_sequence(node)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node)
        if isinstance(node, yaml.MappingNode)
        else loader.construct_scalar(node)
    ),
)


def test_image_test_overlay_only_touches_services_of_the_compose_file():
    overlay = yaml.load(
        (ROOT / "deploy" / "compose.image-test.yml").read_text(), Loader=_OverlayLoader
    )
    services = _compose()["services"]

    assert set(overlay["services"]) <= set(services)
    # The stack's own settings stay: only images, the published port and test values change.
    for name, service in overlay["services"].items():
        assert set(service) <= {"image", "environment", "ports"}, name
        assert "DEBUG" not in service.get("environment", {}), name
    assert all(port.startswith("127.0.0.1:") for port in overlay["services"]["proxy"]["ports"])


def test_image_test_builds_stand_ins_under_the_compose_file_image_names():
    script = (ROOT / "scripts" / "image-test.sh").read_text()
    stand_ins = re.search(r"^for standin in (.+); do$", script, re.M).group(1).split()
    images = {service["image"] for service in _compose()["services"].values()}
    stages = (ROOT / "deploy" / "standins" / "Dockerfile").read_text()

    assert {"postgres:16.4", "redis:7.4.1"} <= images
    assert set(stand_ins) == {"postgres:16.4", "redis:7.4.1"}
    for image in stand_ins:
        assert f" AS {image.split(':')[0]}\n" in stages


def test_bigquery_emulator_installs_each_duckdb_extension_it_loads_from_a_wheel():
    # DuckDB would download a missing extension when bqemulator starts (issue 24, item 1).
    stage = " ".join(argument for _, argument in _stages()["bigquery-emulator"])
    installed = re.search(r"bqemulator_extensions\.py ([a-z ]+)", stage).group(1).split()

    assert {"spatial", "avro"} <= set(installed)
    for name in installed:
        assert f"duckdb-extension-{name}" in stage, name
    assert "numpy" in stage
