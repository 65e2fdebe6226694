"""Asterisk, owned by the appliance: located, configured from templates with fresh secrets, run as a
supervised child (restarted when it dies), stopped on exit.

Where it is found, and how it runs under chroot: asterisk_install.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import jinja2
import structlog

from appliance.config import Settings
from appliance.telephony.asterisk_install import Install, find_asterisk
from appliance.telephony.hold_music import write_hold_music
from appliance.telephony.trunk_config import TrunkConfig, shared_hosts

log = structlog.get_logger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "asterisk" / "templates"
APP = "appliance"
PERSON_APP = "carrier-person"  # the loopback carrier's simulated person (appliance/telephony/carrier/person.py)
MODULES = """
res_pjproject res_sorcery_config res_sorcery_memory res_sorcery_astdb res_timing_timerfd res_rtp_asterisk
res_rtp_multicast res_http_websocket res_musiconhold pbx_config func_channel func_callerid func_strings
func_logic func_hangupcause func_talkdetect res_tonedetect app_dial app_playback app_echo app_amd
app_playtones app_read app_senddtmf app_stack app_exec app_verbose app_record app_mixmonitor res_stasis app_stasis
res_stasis_answer res_stasis_playback res_stasis_recording res_stasis_snoop res_stasis_device_state res_ari
res_ari_model res_ari_applications res_ari_asterisk res_ari_bridges res_ari_channels res_ari_device_states
res_ari_endpoints res_ari_events res_ari_playbacks res_ari_recordings res_ari_sounds bridge_simple
bridge_softmix bridge_native_rtp bridge_holding chan_bridge_media chan_rtp res_audiosocket chan_audiosocket
res_websocket_client chan_websocket codec_ulaw codec_alaw codec_resample codec_gsm codec_g722 format_gsm
format_wav format_pcm format_sln res_pjsip res_pjsip_session chan_pjsip res_pjsip_authenticator_digest
res_pjsip_outbound_authenticator_digest res_pjsip_endpoint_identifier_ip res_pjsip_endpoint_identifier_user
res_pjsip_outbound_registration res_pjsip_registrar res_pjsip_sdp_rtp res_pjsip_dtmf_info res_pjsip_caller_id
res_pjsip_rfc3326 res_pjsip_nat res_pjsip_refer res_pjsip_pubsub res_pjsip_logger res_pjsip_header_funcs
func_pjsip_endpoint res_manager_devicestate
""".split()
EMPTY_CONFS = (
    "features",
    "acl",
    "udptl",
    "pjproject",
    "stasis",
    "ccss",
    "websocket_client",
    "chan_websocket",
    "amd",
    "res_stun_monitor",
    "sorcery",
    "codecs",
)


class PortInUse(RuntimeError):
    """A port Asterisk must bind is held by another process (tried again with back-off by the service)."""


@dataclass(frozen=True)
class Secrets:
    ari_user: str
    ari_password: str
    ami_user: str
    ami_secret: str
    carrier_user: str
    carrier_password: str

    @classmethod
    def generate(cls) -> Secrets:
        return cls(
            "appliance",
            secrets.token_urlsafe(24),
            "appliance",
            secrets.token_urlsafe(24),
            "appliance-test",
            secrets.token_urlsafe(12),
        )


class AsteriskServer:
    """One supervised Asterisk process for this appliance instance."""

    def __init__(self, settings: Settings, install: Install | None = None) -> None:
        self.settings = settings
        self.install = install or find_asterisk(settings)
        self.run_dir = settings.data_path / "asterisk"
        self.recordings_dir = self.run_dir / "recordings"
        self.carrier_dir = self.run_dir / "carrier"
        self.secrets = Secrets.generate()
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
        )
        self._trunks: list[TrunkConfig] = []
        self._proc: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self.up = asyncio.Event()
        self.listeners: list[Callable[[bool], None]] = []  # told True when ARI answers, False when Asterisk dies
        self.restarts = 0

    # --- addresses and credentials for the clients -------------------------------------------------
    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ari_port}/ari"

    @property
    def app(self) -> str:
        return APP

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.returncode is None else None

    def ari_auth(self) -> tuple[str, str]:
        return self.secrets.ari_user, self.secrets.ari_password

    # --- config -----------------------------------------------------------------------------------
    def render(self, trunks: list[TrunkConfig]) -> None:
        """Write every config file into <run>/etc (fresh secrets were generated in __init__)."""
        self._trunks = trunks
        etc = self.run_dir / "etc"
        for sub in (
            "etc",
            "var/lib",
            "var/run",
            "var/log",
            "var/spool/recording",
            "var/cache",
            "recordings",
            "carrier",
            "sounds",
        ):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        write_hold_music(self.run_dir / "moh")
        s = self.settings
        ctx = {
            "run": str(self.run_dir),
            "moddir": self.install.moddir,
            "modules": [f"{m}.so" for m in MODULES],
            "app": APP,
            "ari_port": s.ari_port,
            "ari_user": self.secrets.ari_user,
            "ari_password": self.secrets.ari_password,
            "ami_port": s.ami_port,
            "ami_user": self.secrets.ami_user,
            "ami_secret": self.secrets.ami_secret,
            "rtp_start": s.rtp_start,
            "rtp_end": s.rtp_end,
            "sip_host": s.sip_host,
            "sip_port": s.sip_port,
            "trunks": trunks,
            "shared_hosts": shared_hosts(trunks, carrier=s.loopback_trunk),
            "carrier": self._carrier_context() if s.loopback_trunk else None,
        }
        for name in (
            "asterisk",
            "modules",
            "ari",
            "http",
            "manager",
            "rtp",
            "logger",
            "indications",
            "musiconhold",
            "pjsip",
            "extensions",
        ):
            _write_private(etc / f"{name}.conf", self._env.get_template(f"{name}.conf.j2").render(**ctx))
        for name in EMPTY_CONFS:
            _write_private(etc / f"{name}.conf", "")
        for name in ("cdr", "cel"):
            _write_private(etc / f"{name}.conf", "[general]\nenable = no\n")

    def _carrier_context(self) -> dict[str, object]:
        sounds = self.run_dir / "sounds"
        prompt = _synthesize(
            sounds / "carrier-prompt", "Hello, this is the test carrier. The appliance answered the call correctly."
        )
        greeting = _synthesize(
            sounds / "carrier-greeting",
            "Hi, you have reached the voicemail of the test carrier. Please leave a message after the tone.",
        )
        # Slower than the other prompts: at 165 words a minute Whisper heard "For sales" as "4th ale".
        ivr_menu = _synthesize(sounds / "carrier-ivr-menu", "Press 1 for sales. Press 2 for support.", speed=130)
        return {
            "port": self.settings.carrier_sip_port,
            "username": self.secrets.carrier_user,
            "password": self.secrets.carrier_password,
            "recordings": str(self.carrier_dir),
            "prompt": prompt,
            "greeting": greeting,
            "ivr_menu": ivr_menu,
            "linger": 30,  # long enough to hold calls in benchmarks; tests end calls themselves
            # With the voice engine on, a simulated person (ARI app `carrier-person`) takes +12025550101.
            "person_app": PERSON_APP if self.settings.voice else None,
        }

    # --- process ----------------------------------------------------------------------------------
    async def start(self, trunks: list[TrunkConfig], timeout: float = 30) -> None:
        """Render, launch, and wait until ARI answers."""
        self.render(trunks)
        self.install.mount(self.run_dir)
        await self._kill_orphan()
        self._check_ports_free()
        self._stopping = False
        await self._spawn()
        await self._wait_ready(timeout)
        self._supervisor = asyncio.create_task(self._supervise(), name="asterisk-supervisor")

    def _check_ports_free(self) -> None:
        """Asterisk starts even when it cannot bind ARI or AMI (and then never answers): say which port is taken."""
        for name, port in (("ari_port", self.settings.ari_port), ("ami_port", self.settings.ami_port)):
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Asterisk binds: TIME_WAIT is no owner
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError as exc:
                    raise PortInUse(f"{name} {port} on 127.0.0.1 is held by another process ({exc.strerror})") from None

    async def _kill_orphan(self) -> None:
        """An Asterisk left running by an appliance that was killed holds our ports: stop it. Its calls are
        closed by the dialer's reconciliation."""
        pidfile = self.run_dir / "var/run/asterisk.pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"asterisk" not in cmdline or str(self.run_dir).encode() not in cmdline:
            return
        log.warning("asterisk.orphan_killed", pid=pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            if not Path(f"/proc/{pid}").exists():
                break
            await asyncio.sleep(0.1)

    async def _spawn(self) -> None:
        log_path = self.run_dir / "var/log/console.out"
        with open(log_path, "ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                *self.install.command("-f", "-n", "-C", str(self.run_dir / "etc/asterisk.conf")),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C to the appliance must not kill Asterisk before we stop it
            )
        log.info("asterisk.spawned", pid=self._proc.pid, chroot=str(self.install.root or ""))

    async def _wait_ready(self, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(auth=self.ari_auth(), timeout=2) as client:
            while True:
                if self._proc is not None and self._proc.returncode is not None:
                    raise RuntimeError(f"asterisk exited with {self._proc.returncode}: see {self.run_dir}/var/log")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.ari_url}/asterisk/info")).status_code == 200:
                        break
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"ARI did not answer within {timeout} s")
                await asyncio.sleep(0.1)
        self.up.set()
        self._notify(True)
        log.info("asterisk.ready", ari=self.ari_url)

    async def _supervise(self) -> None:
        """Restart Asterisk when it dies, with backoff; tell the listeners both ways."""
        backoff = 0.5
        while not self._stopping:
            assert self._proc is not None
            code = await self._proc.wait()
            if self._stopping:
                return
            self.up.clear()
            self._notify(False)
            log.warning("asterisk.died", returncode=code, restart_in=backoff)
            await asyncio.sleep(backoff)
            try:
                self.render(self._trunks)  # same secrets as before: connected clients keep working
                await self._spawn()
                await self._wait_ready(30)
                self.restarts += 1
                backoff = 0.5
            except (RuntimeError, TimeoutError, OSError) as exc:
                log.error("asterisk.restart_failed", error=str(exc))
                backoff = min(backoff * 2, 30)

    def _notify(self, up: bool) -> None:
        for listener in list(self.listeners):
            listener(up)

    async def stop(self, timeout: float = 10) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        self.up.clear()
        self.install.unmount(self.run_dir)
        log.info("asterisk.stopped")

    async def reload_pjsip(self, trunks: list[TrunkConfig]) -> None:
        """Re-render and reload PJSIP only: calls in progress keep going."""
        self.render(trunks)
        await self.cli("module reload res_pjsip.so")
        await self.cli("dialplan reload")

    async def cli(self, command: str) -> str:
        """Run one CLI command over the control socket (`asterisk -rx`)."""
        proc = await asyncio.create_subprocess_exec(
            *self.install.command("-C", str(self.run_dir / "etc/asterisk.conf"), "-rx", command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        return out.decode(errors="replace")

    async def version(self) -> str:
        return (await self.cli("core show version")).strip()


def _write_private(path: Path, text: str) -> None:
    """Config files hold secrets: readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _synthesize(base: Path, text: str, speed: int = 165) -> str | None:
    """A spoken prompt as an 8 kHz WAV (espeak-ng + sox), cached; returns the path without extension."""
    wav = base.with_suffix(".wav")
    if wav.exists():
        return str(base)
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        return None
    raw = base.with_suffix(".raw.wav")
    espeak = ["espeak-ng", "-v", "en-us", "-s", str(speed), "-w", str(raw), text]
    subprocess.run(espeak, check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav)], check=True, capture_output=True)
    raw.unlink()
    return str(base)
