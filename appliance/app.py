"""The composition root: `appliance serve` builds the running box here, in order — store, webhook outbox, voice
engine, extractor and its worker, retention, Asterisk with the dialer, campaigns — serves the API and console,
drains on the first signal and stops everything in reverse. `cli.py` only parses arguments."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn

from appliance.api.app import create_asgi
from appliance.campaigns.runner import CampaignRunner
from appliance.config import Settings
from appliance.console.accounts import ensure_first_user
from appliance.model_server import ModelServer
from appliance.results.extraction import Extractor
from appliance.results.extraction_worker import ExtractionWorker
from appliance.results.retention import RetentionJob
from appliance.results.webhooks import WebhookOutbox
from appliance.runtime import Runtime
from appliance.store import keys as key_store
from appliance.store.db import open_db
from appliance.store.questions import StoredQuestions
from appliance.store.trunks import ensure_loopback

if TYPE_CHECKING:
    from appliance.telephony.service import TelephonyService
    from appliance.voice.engine import VoiceEngine

log = structlog.get_logger(__name__)


class Appliance:
    """One running box: what `start` built, for `drain` and `stop`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_path.mkdir(parents=True, exist_ok=True)
        self.db = open_db(settings.db_path, settings.secret_key)
        if settings.loopback_trunk:
            ensure_loopback(self.db, settings.carrier_sip_port)
        self.runtime = Runtime(settings=settings, db=self.db)
        self.telephony: TelephonyService | None = None
        self.first_key: str | None = None
        self.first_password: str | None = None

    async def start(self) -> Runtime:
        settings, db, runtime = self.settings, self.db, self.runtime
        outbox = runtime.outbox = WebhookOutbox(db, url_allowlist=settings.url_allowlist)
        outbox.start()
        engine = self._voice_engine()
        # The extractor uses the conversation's model: it shares the loaded weights rather than load them twice.
        runtime.extractor = Extractor(
            model_id=settings.llm_model or None,
            weights=engine.llama_weights if engine else None,
            server=_model_server(settings, "extraction", settings.extraction_server_url),
        )
        self.extraction = ExtractionWorker(
            db,
            runtime.extractor,
            on_finished=outbox.wake,
            plain=runtime.plain,
            redact_recording=_recording_redactor(settings.stt_model) if engine else None,
        )
        self.extraction.start()
        self.retention = RetentionJob(db, settings.retention_check_seconds, on_transcript_deleted=runtime.plain.forget)
        self.retention.start()
        if settings.telephony:
            await self._start_telephony(engine)
        runtime.campaigns = CampaignRunner(settings, db, ready=self._telephony_ready, on_queued=self._queued)
        runtime.campaigns.start()
        if key_store.count_active(db) == 0:
            _, self.first_key = key_store.create_key(db, "first key")
        self.first_password = ensure_first_user(db)
        return runtime

    def _voice_engine(self) -> VoiceEngine | None:
        settings = self.settings
        if not (settings.telephony and settings.voice):
            return None
        from appliance.voice.engine import VoiceEngine  # model libraries: imported only when the voice runs

        engine = VoiceEngine(
            llm_model=settings.llm_model,
            stt_model=settings.stt_model,
            llm_contexts=settings.llm_contexts,
            llm_sequences=settings.llm_sequences,
            threads=settings.threads,
            llm_server=_model_server(settings, "llm", settings.llm_server_url),
        )
        engine.questions.keeper = StoredQuestions(self.db)  # an agent's questions outlive the process
        self.runtime.voice = engine
        return engine

    async def _start_telephony(self, engine: VoiceEngine | None) -> None:
        from appliance.telephony.opt_out import OptOuts
        from appliance.telephony.service import TelephonyService

        settings, runtime = self.settings, self.runtime
        factory = None
        opt_outs = OptOuts()
        if engine:
            from appliance.telephony.conversation import session_factory

            runtime.voice_loading = asyncio.create_task(engine.load(), name="voice-load")
            factory = session_factory(
                self.db, engine, settings.data_path / "recordings", opt_outs, runtime.plain, settings.url_allowlist
            )
        telephony = self.telephony = TelephonyService(settings, self.db, factory, runtime.voice, opt_outs)
        runtime.telephony = telephony
        print("Starting Asterisk…", flush=True)
        try:
            await telephony.start()
        except Exception as exc:  # the API still serves; /readyz says why telephony is down until a retry works
            log.error("telephony.start_failed", error=str(exc))
            print(f"Telephony failed to start: {exc}; trying again in the background", file=sys.stderr, flush=True)
            telephony.retry_start()

    def _telephony_ready(self) -> bool:
        return self.runtime.telephony is not None and self.runtime.telephony.is_ready()

    def _queued(self) -> None:
        if self.runtime.telephony is not None:
            self.runtime.telephony.wake()
        if self.runtime.outbox is not None:
            self.runtime.outbox.wake()

    async def drain(self, hurry: asyncio.Event) -> None:
        """The first signal: nothing new starts, live calls finish (until `hurry` or the grace is over)."""
        self.runtime.draining = True
        if self.runtime.campaigns is not None:
            await self.runtime.campaigns.stop()
        if self.telephony is None:
            return
        grace = self.settings.shutdown_grace_seconds
        live = self.telephony.live_calls()
        log.info("appliance.draining", live_calls=live, grace_seconds=grace)
        if live:
            print(
                f"Stopping: {live} live call(s) may finish for up to {grace:g} s "
                "(a second SIGTERM or Ctrl-C ends them now)",
                flush=True,
            )
        await self.telephony.drain(grace, hurry)

    async def stop(self) -> None:
        if self.runtime.campaigns is not None:
            await self.runtime.campaigns.stop()
        if self.telephony is not None:
            await self.telephony.stop()
        await self.extraction.stop()
        await self.retention.stop()
        if self.runtime.outbox is not None:
            await self.runtime.outbox.stop()
        self.db.conn.close()


async def serve(settings: Settings) -> int:
    """Start the box, serve HTTP until a signal, drain, stop."""
    box = Appliance(settings)
    runtime = await box.start()
    server = uvicorn.Server(_http_config(settings, runtime))
    # Signals are ours (below): the API must keep serving while live calls drain, so uvicorn must not see them.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    stop, hurry = asyncio.Event(), asyncio.Event()  # the first signal drains, the second ends the live calls

    def on_signal() -> None:
        (hurry if stop.is_set() else stop).set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    server_task = asyncio.create_task(server.serve(), name="http")
    while not server.started and not server_task.done():  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.05)
    if server_task.done():
        await server_task
        return 1
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    base = f"{'https' if settings.https else 'http'}://{shown}:{settings.port}"
    print(f"Console:  {base}/\nAPI:      {base}/v1\nDocs:     {base}/docs\nOpenAPI:  {base}/openapi.json", flush=True)
    if box.first_key:
        print(f"First API key (shown once, store it now): {box.first_key}", flush=True)
    if box.first_password:
        print(f"Console sign-in (shown once): user admin, password {box.first_password}", flush=True)
    print("Ready.", flush=True)
    log.info("appliance.started", url=base, data_dir=str(settings.data_path))
    await stop.wait()
    await box.drain(hurry)
    log.info("appliance.stopping")
    server.should_exit = True
    await server_task
    await box.stop()
    return 0


def _http_config(settings: Settings, runtime: Runtime) -> uvicorn.Config:
    tls: dict[str, str] = {}
    if settings.https:
        from appliance.tls import self_signed

        cert, key = (
            (settings.tls_cert, settings.tls_key) if settings.tls_cert else self_signed(settings.data_path / "tls")
        )
        tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    return uvicorn.Config(
        create_asgi(runtime),
        host=settings.host,
        port=settings.port,
        **tls,  # type: ignore[arg-type]
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


def _recording_redactor(stt_model: str) -> Callable[[Path, list[str], str], int]:
    """Bleeping with a Whisper model of its own, loaded at the first use (≈ 75 MB for tiny.en): CTranslate2 runs
    one request at a time per model, and a live call's turn must never wait behind a whole recording."""
    from appliance import models
    from appliance.privacy.recording import redact_recording

    loaded: list[Any] = []

    def redact(path: Path, kinds: list[str], language: str) -> int:
        if not loaded:
            from faster_whisper import WhisperModel

            model_dir = models.resolve("stt", stt_model or None).path
            loaded.append(WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=1))
        return redact_recording(path, kinds, loaded[0], language)

    return redact


def _model_server(settings: Settings, role: str, url: str) -> ModelServer | None:
    if not url:
        return None
    timeout = settings.model_server_timeout_ms / 1000
    return ModelServer(url, role, timeout_seconds=timeout, api_key=settings.model_server_api_key)
