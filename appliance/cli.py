"""`appliance serve | doctor | keys | models`: the command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import shutil
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
import yaml

from appliance.config import ConfigError, Settings, load_settings
from appliance.logs import configure_logging
from appliance.store import keys as key_store
from appliance.store.db import StoreUnavailable, open_db
from appliance.store.sealed import SecretKeyError

log = structlog.get_logger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appliance", description="On-prem AI phone-agent appliance")
    parser.add_argument("--config", help="path to appliance.toml (default: $APPLIANCE_CONFIG or ./appliance.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="start the API, the console and the telephony side")
    sub.add_parser("doctor", help="report what is installed and reachable")
    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key (printed once)")
    create.add_argument("--name", required=True)
    keys.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id", help="the key's id or its shown prefix")
    users = sub.add_parser("users", help="console users").add_subparsers(dest="users_command", required=True)
    user_create = users.add_parser("create", help="add a console user (asks for the password)")
    user_create.add_argument("username")
    user_create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    hooks = sub.add_parser("webhooks", help="webhook settings").add_subparsers(dest="webhooks_command", required=True)
    hooks.add_parser("secret", help="print the signing secret of inline webhook_url deliveries")
    models_cmd = sub.add_parser("models", help="list installed models and voices")
    models_cmd.add_argument("action", nargs="?", choices=["list", "prepare"], default="list")
    carrier = sub.add_parser("carrier", help="the loopback test carrier").add_subparsers(
        dest="carrier_command", required=True
    )
    carrier_call = carrier.add_parser("call", help="place a call from the test carrier into one of your numbers")
    carrier_call.add_argument("--to", required=True, help="the DID to call (E.164)")
    carrier_call.add_argument("--from", dest="caller", default="+12025550199", help="caller ID")
    carrier_call.add_argument("--script", help="the simulated person's script for this call (YAML)")
    carrier_script = carrier.add_parser("script", help="choose the simulated person's script for the next calls")
    carrier_script.add_argument("script", help="a YAML file, or a built-in name: " + ", ".join(_builtin_scripts()))
    extract_cmd = sub.add_parser("extract", help="run the post-call extraction on a transcript (test a schema)")
    extract_cmd.add_argument("--returns", required=True, type=Path, help="JSON file: returns shorthand or JSON Schema")
    extract_cmd.add_argument(
        "--transcript", required=True, type=Path, help="JSON file: [{role, text}, ...] or a call's transcript"
    )
    extract_cmd.add_argument("--instructions", help="the agent's instructions for the call")
    extract_cmd.add_argument("--context", type=Path, help="JSON file: the call's context object")
    extract_cmd.add_argument("--model", help="an installed language model id (default: the default model)")
    args = parser.parse_args(argv)

    try:
        settings = load_settings(config_file=args.config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_json)

    if args.command == "serve":
        from appliance.app import serve

        try:
            return asyncio.run(serve(settings))
        except (StoreUnavailable, SecretKeyError) as exc:
            print(f"storage error: {exc}", file=sys.stderr)
            return 2
    if args.command == "doctor":
        return doctor(settings)
    if args.command == "extract":
        return extract(args.returns, args.transcript, args.instructions, args.context, args.model)
    if args.command == "webhooks":
        from appliance.store.webhooks import inline_secret

        print(inline_secret(open_db(settings.db_path, settings.secret_key)))
        return 0
    if args.command == "models":
        return models(args.action)
    if args.command == "users":
        return create_user(settings, args.username, args.password_stdin)
    if args.command == "carrier":
        from appliance.telephony.carrier.inbound import place_call

        if args.carrier_command == "script" or args.script:
            try:
                print(f"the simulated person now follows {_choose_script(settings, args.script)}")
            except (OSError, ValueError) as exc:
                print(f"cannot use that script: {exc}", file=sys.stderr)
                return 1
            if args.carrier_command == "script":
                return 0
        try:
            print(f"calling {args.to} from the test carrier: channel {place_call(settings, args.to, args.caller)}")
        except RuntimeError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        return 0
    db = open_db(settings.db_path, settings.secret_key)
    if args.keys_command == "create":
        record, key = key_store.create_key(db, args.name)
        print(f"created key {record.id} ({record.name}); store it now, it is not shown again:\n{key}")
    elif args.keys_command == "list":
        for k in key_store.list_keys(db):
            state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
            print(f"{k.id}  {k.prefix}…  {k.name}  created {k.created_at}  {state}")
    elif args.keys_command == "revoke":
        from appliance.errors import NotFound

        try:
            k = key_store.revoke_key(db, args.key_id)
        except NotFound as exc:
            print(exc.message, file=sys.stderr)
            return 1
        print(f"revoked {k.id} ({k.name})")
    return 0


def create_user(settings: Settings, username: str, from_stdin: bool) -> int:
    from appliance.console import accounts
    from appliance.errors import ApplianceError

    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {username}: ")
        if getpass.getpass("Again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 1
    try:
        accounts.create_user(open_db(settings.db_path, settings.secret_key), username, password)
    except ApplianceError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    print(f"created console user {username}")
    return 0


def extract(
    returns_file: Path, transcript_file: Path, instructions: str | None, context_file: Path | None, model: str | None
) -> int:
    """Print {result, result_status, result_error} as POST /v1/extractions would; exit 1 if it failed."""
    import json

    from appliance.errors import InvalidInput
    from appliance.results.extraction import Extractor, read_transcript
    from appliance.results.schema import returns_to_schema

    try:
        returns = json.loads(returns_file.read_text())
        returns_to_schema(returns)
        turns = read_transcript(json.loads(transcript_file.read_text()))
        context = json.loads(context_file.read_text()) if context_file else None
        if context is not None and not isinstance(context, dict):
            raise InvalidInput("context must be a JSON object", field="context")
    except (OSError, ValueError) as exc:
        print(f"cannot read the input: {exc}", file=sys.stderr)
        return 2
    except InvalidInput as exc:
        print(exc.message, file=sys.stderr)
        return 2
    outcome = Extractor(model_id=model).extract(returns, turns, instructions, context)
    print(
        json.dumps(
            {"result": outcome.result, "result_status": outcome.status, "result_error": outcome.error},
            indent=2,
            ensure_ascii=False,
        )
    )
    return 0 if outcome.status == "completed" else 1


def doctor(settings: Settings) -> int:
    """What is installed and what answers; exit 1 if something needed is missing."""
    ok = True

    def line(name: str, good: bool, detail: str) -> None:
        nonlocal ok
        ok = ok and good
        print(f"[{'ok' if good else '!!'}] {name}: {detail}")

    line("python", sys.version_info >= (3, 11), sys.version.split()[0])
    try:
        db = open_db(settings.db_path, settings.secret_key)
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        line(
            "database", integrity == "ok", f"{settings.db_path} ({integrity}, {key_store.count_active(db)} active keys)"
        )
    except Exception as exc:
        line("database", False, f"{settings.db_path}: {exc}")
    with socket.socket() as s:
        in_use = s.connect_ex(("127.0.0.1", settings.port)) == 0
    print(f"[--] api port {settings.port}: {'something is listening (the appliance?)' if in_use else 'free'}")
    if in_use and (readiness := _running_readiness(settings)) is not None:
        for name, reason in readiness.get("reasons", {}).items():
            line(f"running appliance: {name}", False, reason)
        if readiness.get("ready"):
            print("[ok] running appliance: ready")
    for tool in ("sipp", "espeak-ng", "sox"):
        path = shutil.which(tool)
        line(tool, path is not None, path or "not installed (make setup installs it)")
    from appliance import models as registry

    for kind, installed in (
        ("voices", registry.installed_voices()),
        ("speech-to-text", registry.installed_stt()),
        ("language models", registry.installed_llms()),
    ):
        line(kind, bool(installed), ", ".join(installed) or "none installed (make setup installs the defaults)")
    if settings.telephony:
        ok = asyncio.run(_doctor_telephony(settings, line)) and ok
    return 0 if ok else 1


def _running_readiness(settings: Settings) -> dict[str, Any] | None:
    """The running appliance's /readyz (why telephony is not ready, while it retries), or None if it says nothing."""
    import httpx

    scheme = "https" if settings.https else "http"
    try:
        return httpx.get(f"{scheme}://127.0.0.1:{settings.port}/readyz", timeout=3, verify=False).json()
    except (httpx.HTTPError, ValueError):
        return None


async def _doctor_telephony(settings: Settings, line: Callable[[str, bool, str], None]) -> bool:
    """Asterisk: installed version; when the appliance runs, loaded modules and each trunk's state."""
    import httpx

    from appliance.telephony.ami import AmiClient
    from appliance.telephony.asterisk_install import AsteriskNotInstalled, find_asterisk
    from appliance.telephony.running import ari_credentials, manager_credentials
    from appliance.telephony.trunk_config import endpoint_name

    try:
        install = find_asterisk(settings)
    except AsteriskNotInstalled as exc:
        line("asterisk", False, str(exc))
        return False
    line(
        "asterisk",
        True,
        f"{install.version.split(' built')[0]} ({'chroot ' + str(install.root) if install.root else 'system'})",
    )
    try:
        base, user, password = ari_credentials(settings)
        async with httpx.AsyncClient(auth=(user, password), timeout=3) as client:
            modules = (await client.get(f"{base}/asterisk/modules")).json()
    except (RuntimeError, httpx.HTTPError, ValueError):
        print("[--] asterisk: not running (start the appliance to see modules and trunks)")
        return True
    running = [m["name"] for m in modules if m.get("status") == "Running"]
    line("asterisk modules", len(running) > 50, f"{len(running)} running: " + ", ".join(sorted(running)[:8]) + ", …")
    ami = AmiClient(*manager_credentials(settings))
    try:
        registrations, contacts = await ami.registrations(), await ami.contacts()
    finally:
        await ami.close()
    from appliance.store.trunks import trunk_rows

    for row in trunk_rows(open_db(settings.db_path, settings.secret_key)):
        endpoint = endpoint_name(row["id"])
        state = registrations.get(f"{endpoint}-reg", "unregistered") if row["register"] else "no registration"
        reach = {True: "reachable", False: "unreachable", None: "not qualified"}[contacts.get(endpoint)]
        print(f"[--] trunk {row['name']} ({row['host']}:{row['port']}): {state}, {reach}")
    return True


PERSON_SCRIPTS = Path(__file__).parent / "telephony" / "carrier" / "scripts"


def _builtin_scripts() -> list[str]:
    return sorted(p.stem for p in PERSON_SCRIPTS.glob("*.yaml"))


def _choose_script(settings: Settings, name: str) -> Path:
    """Validate a person script and make it the one the carrier uses from the next call on."""
    from appliance.telephony.carrier.person import Script

    source = PERSON_SCRIPTS / f"{name}.yaml" if name in _builtin_scripts() else Path(name)
    try:
        Script.load(source)
    except (TypeError, yaml.YAMLError) as exc:
        raise ValueError(f"{source}: {exc}") from exc
    target = settings.data_path / "carrier" / "person.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return source


def models(action: str) -> int:
    from appliance import models as registry

    if action == "prepare":
        try:
            print(f"default language model ready: {registry.prepare_models()}")
        except registry.ModelMissing as exc:
            print(str(exc), file=sys.stderr)
            return 1
        return 0
    defaults = {registry.DEFAULT_VOICE, registry.DEFAULT_STT, registry.DEFAULT_LLM}
    for title, installed in (
        ("Voices (Piper)", registry.installed_voices()),
        ("Speech-to-text (CTranslate2 Whisper)", registry.installed_stt()),
        ("Language models (GGUF)", registry.installed_llms()),
    ):
        print(f"{title}:")
        for m in installed.values():
            print(f"  {m.id:36} {'default' if m.id in defaults else '':8} {m.source:28} {m.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
