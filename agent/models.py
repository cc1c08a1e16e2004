"""Generator backends behind one small interface: :class:`ChatModel`.

* ``llamacpp`` (default on CPU): llama.cpp embedded in-process by ``xllamacpp``.
  It serves the OpenAI chat format on a loopback port, so it shares its client
  code with the remote backend.
* ``openai``: any OpenAI-compatible endpoint by URL (vLLM, llama.cpp server, Ollama).
* ``transformers``: torch + transformers, the GPU path (a transformers folder).

Every backend takes OpenAI-style ``messages`` and returns a :class:`Completion`;
``json_schema`` constrains the output (a grammar on llama.cpp and servers that
support ``response_format``, parse-and-retry on transformers); ``on_token``
streams text pieces as they are decoded.

    >>> m = load_model(load_settings(model="smollm2-135m"))            # doctest: +SKIP
    >>> m.complete([{"role": "user", "content": "Hi"}], max_tokens=8).text  # doctest: +SKIP
    'Hello! How can I help'

A new backend is a class and a loader (here or in a new file) plus one ``BACKENDS.register`` line. What it leaves
out: native tool-call formats (Pulse owns its tool protocol, see agents.py),
multi-GPU sharding.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pulse.plugins import BACKENDS

__all__ = ["ChatModel", "Completion", "load_model", "BACKENDS", "OpenAICompatModel", "LlamaCppModel", "TransformersModel"]

# llama.cpp and torch both use OpenMP: with the default spin-wait policy two
# thread pools on 2 cores starve each other (decode collapses 10-50x).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    timings: dict = field(default_factory=dict)  # ttft_s, total_s, prefill_tps, decode_tps, cached_tokens


class ChatModel:
    """``complete(messages, ...) -> Completion``. Subclasses implement :meth:`_complete`."""

    name: str = "?"
    backend: str = "?"

    def complete(
        self,
        messages: list[dict],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        json_schema: dict | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Completion:
        t0 = time.perf_counter()
        c = self._complete(messages, max_tokens=max_tokens, temperature=temperature, json_schema=json_schema, on_token=on_token)
        c.timings.setdefault("total_s", time.perf_counter() - t0)
        return c

    def _complete(self, messages, *, max_tokens, temperature, json_schema, on_token) -> Completion:
        raise NotImplementedError

    def info(self) -> dict:
        return {"backend": self.backend, "model": self.name}

    def close(self) -> None:
        pass


class OpenAICompatModel(ChatModel):
    """Any server that speaks ``POST /v1/chat/completions``."""

    backend = "openai"

    def __init__(self, base_url: str, model: str, api_key: str = "none", timeout: float = 600.0):
        from openai import OpenAI

        self.base_url = base_url
        self.name = model
        self.client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=1)

    def _request(self, messages, max_tokens, temperature, json_schema) -> dict:
        req = {"model": self.name, "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
        if json_schema is not None:
            req["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "strict": True, "schema": json_schema},
            }
        return req

    def _complete(self, messages, *, max_tokens, temperature, json_schema, on_token):
        req = self._request(messages, max_tokens, temperature, json_schema)
        t0 = time.perf_counter()
        parts: list[str] = []
        ttft = None
        usage = None
        extra: dict = {}
        stream = self.client.chat.completions.create(**req, stream=True, stream_options={"include_usage": True})
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                piece = chunk.choices[0].delta.content
                if ttft is None:
                    ttft = time.perf_counter() - t0
                parts.append(piece)
                if on_token:
                    on_token(piece)
            if getattr(chunk, "usage", None):
                usage = chunk.usage
            t = getattr(chunk, "timings", None) or (chunk.model_extra or {}).get("timings")
            if t:
                extra = t
        timings = {"ttft_s": ttft if ttft is not None else time.perf_counter() - t0}
        if extra:  # llama.cpp reports its own prefill/decode speeds
            timings.update(
                prefill_tps=extra.get("prompt_per_second"),
                decode_tps=extra.get("predicted_per_second"),
                cached_tokens=extra.get("cache_n"),
                prompt_n=extra.get("prompt_n"),
                predicted_n=extra.get("predicted_n"),
            )
        return Completion(
            "".join(parts), getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0, timings
        )


class LlamaCppModel(OpenAICompatModel):
    """llama.cpp in this process (xllamacpp), served on 127.0.0.1 at a free port.

    Two slots: the router's prompt and the answer's prompt each keep their KV
    cache, so the fixed system prompts are evaluated once, not every turn.
    """

    backend = "llamacpp"

    def __init__(self, gguf_path: str, threads: int = 2, n_ctx: int = 8192, n_parallel: int = 2):
        import xllamacpp as xlc

        p = xlc.CommonParams()
        p.model.path = str(gguf_path)
        p.n_ctx = n_ctx
        p.n_parallel = n_parallel
        p.cpuparams.n_threads = threads
        p.cpuparams_batch.n_threads = threads
        p.hostnames = ["127.0.0.1"]
        p.port = 0
        p.use_jinja = True
        p.verbosity = 0
        self.gguf_path = str(gguf_path)
        self.threads = threads
        self.server = xlc.Server(p)  # returns once the model is loaded
        super().__init__(self.server.listening_address + "/v1", os.path.basename(gguf_path))
        self._lock = threading.Lock()

    def _complete(self, messages, **kw):
        with self._lock:  # one local model: requests queue here rather than fail
            return super()._complete(messages, **kw)

    def info(self) -> dict:
        import xllamacpp

        return {
            "backend": self.backend,
            "model": self.gguf_path,
            "runtime": f"xllamacpp {xllamacpp.__version__}",
            "threads": self.threads,
            "address": self.base_url,
        }


class TransformersModel(ChatModel):
    """torch + transformers: the GPU path. ``path`` is a transformers model folder."""

    backend = "transformers"

    def __init__(self, path: str, threads: int | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.name = str(path)
        self.tok = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(self.device).eval()
        self._lock = threading.Lock()

    def _generate(self, messages, max_tokens, temperature, on_token) -> Completion:
        import torch
        from transformers import TextIteratorStreamer

        ids = self.tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True).to(
            self.device
        )
        streamer = TextIteratorStreamer(self.tok, skip_prompt=True, skip_special_tokens=True)
        kw = dict(
            **ids, max_new_tokens=max_tokens, streamer=streamer, do_sample=temperature > 0, pad_token_id=self.tok.eos_token_id
        )
        if temperature > 0:
            kw["temperature"] = temperature
        t0 = time.perf_counter()
        th = threading.Thread(target=lambda: self.model.generate(**kw))
        with torch.inference_mode():
            th.start()
            parts, ttft = [], None
            for piece in streamer:
                if piece and ttft is None:
                    ttft = time.perf_counter() - t0
                parts.append(piece)
                if on_token and piece:
                    on_token(piece)
            th.join()
        text = "".join(parts)
        n_out = len(self.tok(text)["input_ids"])
        total = time.perf_counter() - t0
        return Completion(
            text,
            int(ids["input_ids"].shape[1]),
            n_out,
            {"ttft_s": ttft or total, "decode_tps": n_out / max(total - (ttft or 0), 1e-6)},
        )

    def _complete(self, messages, *, max_tokens, temperature, json_schema, on_token):
        with self._lock:
            if json_schema is None:
                return self._generate(messages, max_tokens, temperature, on_token)
            # No grammar here: ask for JSON, validate, retry once with the error.
            msgs = list(messages) + [
                {
                    "role": "system",
                    "content": "Reply with one JSON object matching this schema, nothing else:\n" + json.dumps(json_schema),
                }
            ]
            for _ in range(2):
                c = self._generate(msgs, max_tokens, temperature, None)
                s, e = c.text.find("{"), c.text.rfind("}")
                try:
                    json.loads(c.text[s : e + 1])
                    c.text = c.text[s : e + 1]
                    return c
                except ValueError as err:
                    msgs = msgs + [
                        {"role": "assistant", "content": c.text},
                        {"role": "user", "content": f"That was not valid JSON ({err}). Reply with the JSON object only."},
                    ]
            return c


def _load_llamacpp(settings):
    from .packs import resolve_model

    return LlamaCppModel(str(resolve_model(settings.model, settings.cache_dir)), threads=settings.threads, n_ctx=settings.n_ctx)


def _load_openai(settings):
    if not settings.base_url:
        raise ValueError("backend=openai needs base_url (PULSE_BASE_URL), e.g. http://127.0.0.1:8080/v1")
    return OpenAICompatModel(settings.base_url, settings.model, settings.api_key)


def _load_transformers(settings):
    from .packs import transformers_folder

    return TransformersModel(str(transformers_folder(settings.model, settings.cache_dir)), threads=settings.threads)


BACKENDS.register("llamacpp", _load_llamacpp)
BACKENDS.register("openai", _load_openai)
BACKENDS.register("transformers", _load_transformers)


def load_model(settings) -> ChatModel:
    """The configured backend, loaded (an unknown name is a :class:`~pulse.plugins.UnknownName` listing the others)."""
    return BACKENDS[settings.backend](settings)
