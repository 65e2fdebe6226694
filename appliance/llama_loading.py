"""Loading llama.cpp models without losing the process's output.

With `verbose=False`, llama-cpp-python quiets llama.cpp by pointing file descriptors 1 and 2 at /dev/null
while a model loads (`suppress_stdout_stderr`). That is process-wide: whatever other threads print or log
meanwhile is lost (it swallowed serve's "Ready." banner when the voice model loaded at the same moment, and
every call's log lines while the extraction model loads), and two loads at once can leave stdout on
/dev/null for good. llama.cpp's messages already go through llama-cpp-python's log callback, which
`verbose=False` keeps at errors only, so the redirect is dropped here.
"""

from __future__ import annotations

import contextlib
from typing import Any

import llama_cpp._internals
import llama_cpp.llama
import llama_cpp.llama_chat_format
from llama_cpp import Llama


def _keep_output(disable: bool = True) -> contextlib.nullcontext[None]:
    return contextlib.nullcontext()


llama_cpp.llama.suppress_stdout_stderr = _keep_output  # type: ignore[assignment]
llama_cpp._internals.suppress_stdout_stderr = _keep_output  # type: ignore[assignment]
llama_cpp.llama_chat_format.suppress_stdout_stderr = _keep_output  # type: ignore[assignment]


def load_llama(model_path: str, **params: Any) -> Llama:
    """A quiet `Llama` whose loading leaves stdout and stderr alone."""
    return Llama(model_path=model_path, verbose=False, **params)
