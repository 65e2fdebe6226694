"""On-prem AI phone-agent appliance."""

import os

# onnxruntime (Piper's runtime) starts a Microsoft telemetry uploader that resolves
# mobile.events.data.microsoft.com some seconds after the first session, on Linux too, and
# disable_telemetry_events() does not stop it; this variable does. It must be set before onnxruntime
# loads, hence here. The box makes no connection outside loopback (tests/reliability/test_offline.py).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
