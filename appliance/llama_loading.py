"""Loading llama.cpp models without losing the process's output.

With `verbose=False`, llama-cpp-python quiets llama.cpp by pointing file descriptors 1 and 2 at /dev/null
while a model loads (`suppress_stdout_stderr`). That is process-wide: whatever other threads print or log
meanwhile is lost (it swallowed serve's "Ready." banner when the voice model loaded at the same moment, and
every call's log lines while the extraction model loads), and two loads at once can leave stdout on
/dev/null for good. llama.cpp's messages already go through llama-cpp-python's log callback, which
`verbose=False` keeps at errors only, so the redirect is dropped here.

Weights are read into memory rather than memory-mapped. llama.cpp repacks most of a quantised model's
tensors into a layout for the CPU's vector units; with mmap the file's pages stay mapped (and resident)
beside that repacked copy, so the model was held twice: 1.9 GB of RSS for the 1.1 GB default model against
1.3 GB when read (`bench/llm_memory.py`).
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
    """A quiet `Llama`, its weights read rather than mapped, whose loading leaves stdout and stderr alone."""
    return Llama(model_path=model_path, verbose=False, use_mmap=False, **params)
