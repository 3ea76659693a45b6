"""The compose checks of `make image-test` (scripts/image-test.sh), on the images it built.

Brings docker-compose.yml's stack up as written (with deploy/compose.image-test.yml on top:
the images built here, the proxy published on one loopback port, a test configuration),
then, over https through the Caddy proxy with its locally generated certificate verified:
/healthz, the API docs and the admin's login page answer as a production deploy does
(DEBUG off, https redirect and Secure cookies on), and a sandbox payment goes end to end
(init-payment on the web class, the shopper's pages on the shopper class) and reads back
`succeeded`. With a BigQuery emulator image, the `bigquery` profile's service starts too
and the gateway's own `bigquery_setup` and `bigquery_backfill` export that payment to it.
Takes the stack down (volumes too) at the end.

    python3 scripts/compose_checks.py COMPOSE_BINARY

Environment: IMAGE_TEST_IMAGE, IMAGE_TEST_PROXY_IMAGE, IMAGE_TEST_BIGQUERY_IMAGE (the images
built), IMAGE_TEST_WORK (a folder for the proxy's CA certificate), IMAGE_TEST_KEEP=1 (leave
the stack up on failure).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

from image_checks import fail, fetch, free_port, pay, say, wait_for

PROJECT = "apaygate-image-test"
# The services the stack's default profile needs; Metabase's images cannot be built here.
SERVICES = ["proxy", "web", "shopper", "worker", "beat"]
UP_LIMIT = 300
CADDY_ROOT = "/var/lib/caddy/pki/authorities/local/root.crt"


def compose_command(binary: str) -> list[str]:
    return [binary, "-p", PROJECT, "-f", "docker-compose.yml", "-f",
            "deploy/compose.image-test.yml"]  # fmt: skip


def compose(base: list[str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # The compose binary is the one image-test.sh installed; the arguments are ours.
    proc = subprocess.run([*base, *args], capture_output=True, text=True)  # noqa: S603
    if check and proc.returncode != 0:
        logs = subprocess.run([*base, "logs", "--tail", "30"], capture_output=True, text=True)  # noqa: S603
        fail(
            f"compose {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}\n"
            f"--- logs:\n{logs.stdout}{logs.stderr}"
        )
    return proc


def manage(base: list[str], *args: str) -> str:
    return compose(base, "exec", "-T", "web", "python", "manage.py", *args).stdout.strip()


def service_states(base: list[str]) -> dict[str, str]:
    """{service: 'running (healthy)' | 'exited (0)' | ...} from `compose ps`."""
    out = compose(base, "ps", "-a", "--format", "json").stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    if len(rows) == 1 and isinstance(rows[0], list):
        rows = rows[0]
    states = {}
    for row in rows:
        state = row["State"]
        if row.get("Health"):
            state += f" ({row['Health']})"
        elif state == "exited":
            state += f" ({row['ExitCode']})"
        states[row["Service"]] = state
    return states


def check_https(origin: str, context: ssl.SSLContext) -> None:
    for path, expected in (("/healthz", 200), ("/docs/", 200), ("/admin/login/", 200)):
        status, headers, body = fetch("GET", origin + path, context=context)
        if status != expected:
            fail(f"https {path}: {status} {headers.get('location', '')} {body[:120]!r}")
        if path == "/admin/login/" and "secure" not in headers.get("set-cookie", "").lower():
            fail(f"the admin's cookie is not Secure: {headers.get('set-cookie')!r}")
    say("https /healthz, /docs/, /admin/login/: 200 (certificate verified; Secure cookie)")


def check_payment(base: list[str], origin: str, context: ssl.SSLContext) -> None:
    manage(base, "create_merchant", "compose-test", "--name", "Compose Test", "--provider",
           "sandbox")  # fmt: skip
    token = manage(base, "issue_token", "compose-test", "--test", "--label", "compose-test")
    token = token.splitlines()[-1]
    started = time.monotonic()
    payment_id = pay(token, "order-compose", postback_url=None, base=origin, context=context)
    read: dict = {}

    def succeeded() -> bool:
        status, _, body = fetch(
            "GET",
            f"{origin}/api/v1/payments/{payment_id}",
            headers={"Authorization": f"Token {token}"},
            context=context,
        )
        read.update(json.loads(body) if status == 200 else {"answer": status})
        return read.get("status") == "succeeded"

    wait_for("the payment to read succeeded", succeeded, 60)
    took = time.monotonic() - started
    say(f"sandbox payment over https through the proxy: succeeded in {took:.1f} s")


def check_bigquery_profile(base: list[str]) -> None:
    """The profile's emulator starts and takes the stack's events: those of the payment."""
    profile = [*base, "--profile", "bigquery"]
    compose(profile, "up", "-d", "--no-build", "bigquery")
    env = ["-e", "BIGQUERY_PROJECT=apaygate-local", "-e",
           "BIGQUERY_API_ENDPOINT=http://bigquery:9050"]  # fmt: skip
    exec_web = ["exec", "-T", *env, "web", "python", "manage.py"]

    def setup_answers() -> bool:
        return compose(profile, *exec_web, "bigquery_setup", check=False).returncode == 0

    took = wait_for("bigquery_setup against the compose emulator", setup_answers, 120)
    say(f"bigquery profile: emulator up, bigquery_setup done after {took:.1f} s")
    out = compose(profile, *exec_web, "bigquery_backfill", "--no-progress").stdout.strip()
    if " sent 0," in out or "refused 0" not in out:
        fail(f"bigquery_backfill: {out}")
    say(f"bigquery_backfill: {out.splitlines()[-1]}")


def main() -> None:
    base = compose_command(sys.argv[1])
    work = Path(os.environ.get("IMAGE_TEST_WORK", ".image-test"))
    port = free_port()
    os.environ["IMAGE_TEST_HTTPS_PORT"] = str(port)
    os.environ["IMAGE_TEST_SECRET_KEY"] = "compose-" + base64.b64encode(os.urandom(24)).decode()
    bigquery_image = os.environ.get("IMAGE_TEST_BIGQUERY_IMAGE", "")
    os.environ.setdefault("IMAGE_TEST_BIGQUERY_IMAGE", "unused")
    os.environ["IMAGE_TEST_BIGQUERY_PORT"] = str(free_port())
    origin = f"https://localhost:{port}"
    print(f"Compose checks: project {PROJECT}, proxy on 127.0.0.1:{port}", flush=True)
    passed = False
    try:
        started = time.monotonic()
        compose(base, "up", "-d", "--no-build", "--wait", "--wait-timeout", str(UP_LIMIT),
                *SERVICES)  # fmt: skip
        states = service_states(base)
        say(f"up in {time.monotonic() - started:.0f} s: " + ", ".join(
            f"{service} {state}" for service, state in sorted(states.items())
        ))  # fmt: skip
        if states.get("migrate") != "exited (0)":
            fail(f"migrate: {states.get('migrate')}")
        for service in [*SERVICES, "postgres", "redis"]:
            if not states.get(service, "").startswith("running"):
                fail(f"{service}: {states.get(service)}")
        ca = work / "caddy-root.crt"
        compose(base, "cp", f"proxy:{CADDY_ROOT}", str(ca))
        context = ssl.create_default_context(cafile=str(ca))
        check_https(origin, context)
        check_payment(base, origin, context)
        if bigquery_image:
            check_bigquery_profile(base)
        passed = True
    finally:
        if passed or os.environ.get("IMAGE_TEST_KEEP") != "1":
            compose([*base, "--profile", "bigquery"], "down", "-v", "--timeout", "30",
                    check=False)  # fmt: skip
    print("Compose checks: all passed", flush=True)


if __name__ == "__main__":
    main()
