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

A second context for the same model (the extractor beside the conversation, a second conversation
context) borrows the first one's loaded weights instead of loading its own copy: llama.cpp lets several
contexts use one model, but llama-cpp-python's `Llama` always loads one, so the load is short-circuited.

`chat_formatter` writes a prompt the way the model's own chat template does.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import llama_cpp._internals
import llama_cpp.llama
import llama_cpp.llama_chat_format
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter


def _keep_output(disable: bool = True) -> contextlib.nullcontext[None]:
    return contextlib.nullcontext()


llama_cpp.llama.suppress_stdout_stderr = _keep_output  # type: ignore[assignment]
llama_cpp._internals.suppress_stdout_stderr = _keep_output  # type: ignore[assignment]
llama_cpp.llama_chat_format.suppress_stdout_stderr = _keep_output  # type: ignore[assignment]


_loading = threading.Lock()  # a borrowed load swaps a module global for its duration


class _BorrowedModel(llama_cpp._internals.LlamaModel):
    """Another `Llama`'s loaded model, which this one uses and must not free. It holds the owner: freed
    first, the owner would free the weights under this context (a segfault at its next decode)."""

    def __init__(self, owner: Llama) -> None:  # loads nothing: no super().__init__
        loaded = owner._model
        self.path_model, self.params, self.verbose = loaded.path_model, loaded.params, loaded.verbose
        self.model, self.vocab = loaded.model, loaded.vocab
        self.sampler, self.custom_samplers = None, []
        self._exit_stack = contextlib.ExitStack()
        self.owner = owner

    def close(self) -> None:
        """The owner frees the weights, not a borrower."""


def load_llama(model_path: str, *, weights_of: Llama | None = None, **params: Any) -> Llama:
    """A quiet `Llama`, its weights read rather than mapped, whose loading leaves stdout and stderr alone.
    With `weights_of` (a loaded `Llama` of the same file), a new context on that one's weights, which keeps
    the owner alive as long as itself (an explicit `close()` of the owner would still free them)."""
    with _loading:
        if weights_of is None:
            return Llama(model_path=model_path, verbose=False, use_mmap=False, **params)
        loader = llama_cpp._internals.LlamaModel
        llama_cpp._internals.LlamaModel = lambda **_load: _BorrowedModel(weights_of)  # type: ignore[misc,assignment]
        try:
            return Llama(model_path=model_path, verbose=False, **params)
        finally:
            llama_cpp._internals.LlamaModel = loader  # type: ignore[misc]


def chat_formatter(context: Llama) -> Jinja2ChatFormatter | None:
    """The formatter `create_chat_completion` uses for a model with a chat template in its file (as
    llama-cpp-python builds it), so that a prefilled prompt, or one sent to a model server, is token for token
    the one a local completion reads. None for other formats: no prefill, no server."""
    template = context.metadata.get("tokenizer.chat_template")
    if context.chat_format != "chat_template.default" or not template:
        return None
    text = context._model.token_get_text
    return Jinja2ChatFormatter(
        template=template,
        eos_token=text(context.token_eos()) if context.token_eos() != -1 else "",
        bos_token=text(context.token_bos()) if context.token_bos() != -1 else "",
        stop_token_ids=[context.token_eos()],
    )
