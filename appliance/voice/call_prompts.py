"""Each call's prompts as the model's own chat template writes them, with the tools offered to the call, in
the model's tokens: one place for the pool (llm.py), the batched context (llm_batch.py) and a model server
(served_llm.py, which is sent these tokens), so that all three read a prompt token for token alike."""

from __future__ import annotations

from typing import Any

from llama_cpp import Llama

from appliance.llama_loading import chat_formatter

Message = dict[str, str]
_CUT = "\u2063"  # stands for the caller's next words in a formatted prompt (an invisible separator)


class CallPrompts:
    def __init__(self, model: Llama) -> None:
        self._model = model
        self._formatter = chat_formatter(model)
        self._tools: dict[str, list[dict[str, Any]]] = {}  # call → tools offered in its prompt (offer())
        self._angles = {model.tokenize(a.encode(), add_bos=False)[0] for a in ("<", " <")}

    @property
    def templated(self) -> bool:
        """Whether the model has a chat template (prompts in tokens, prefill and tools need one)."""
        return self._formatter is not None

    def offer(self, call_id: str, tools: list[dict[str, Any]]) -> bool:
        """Offer `tools` (OpenAI-style function specs) in every prompt of this call, in the model's own
        chat-template format. False (nothing offered) for a model without a chat template: it has no format
        to call them in, and its prefill could not match the prompt."""
        if self._formatter is None or not tools:
            return False
        self._tools[call_id] = tools
        return True

    def forget(self, call_id: str) -> None:
        self._tools.pop(call_id, None)

    def tools(self, call_id: str) -> list[dict[str, Any]] | None:
        return self._tools.get(call_id)

    def text(self, call_id: str, messages: list[Message]) -> str:
        """The prompt of the reply to `messages`, as text."""
        assert self._formatter is not None
        return self._formatter(messages=messages, tools=self._tools.get(call_id)).prompt

    def tokens(self, call_id: str, messages: list[Message], opening: str = "") -> list[int]:
        """The tokens a reply to `messages` reads, written from `opening` on (what a model server is sent)."""
        assert self._formatter is not None
        formatted = self._formatter(messages=messages, tools=self._tools.get(call_id))
        return self._tokens(formatted.prompt + opening, formatted.added_special)

    def known_tokens(self, call_id: str, messages: list[Message], user_so_far: str) -> list[int]:
        """The tokens of the next reply's prompt as far as it is known: after `messages`, the caller's words so far."""
        assert self._formatter is not None
        formatted = self._formatter(
            messages=[*messages, {"role": "user", "content": _CUT}], tools=self._tools.get(call_id)
        )
        return self._tokens(formatted.prompt[: formatted.prompt.rindex(_CUT)] + user_so_far, formatted.added_special)

    def words_only_bias(self) -> dict[int, float]:
        """Logit bias that keeps "<" out of a reply: no mark, no tag (the end-of-call mark and a call's tag both
        open with it)."""
        return dict.fromkeys(self._angles, -100.0)

    def _tokens(self, text: str, added_special: bool) -> list[int]:
        return self._model.tokenize(text.encode(), add_bos=not added_special, special=True)
