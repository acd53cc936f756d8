"""A fake LLM provider speaking OpenAI Chat Completions and Anthropic Messages over real HTTP.

It checks requests the way the real APIs do (auth headers, required and unknown fields, value
ranges: a 401 or a 400 with the provider's error body), answers with realistic bodies and usage
counts (about one token per 4 characters), and can be scripted from a test::

    async with FakeLLM() as fake:
        fake.script(rate_limited("1"), server_error(), ok(mode="fenced"))
        ... analyzer on fake.openai_base_url / fake.anthropic_base_url ...
        assert [r.status for r in fake.received] == [429, 500, 200]

Each scripted behaviour answers one request, in order (after the auth and body checks, which
come first as on the real services); when the script is empty the request is answered
normally. Every request is recorded in :attr:`FakeLLM.received`.

The model's answer is derived from the article in the prompt (the text between ``<article>``
and ``</article>``, else the whole user message): the summary is its first sentence, the
keywords its three most frequent long words, the language a guess from common words.
"""

from __future__ import annotations

import asyncio
import collections
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from aiohttp import web

__all__ = [
    "Behaviour",
    "FakeLLM",
    "Mode",
    "Received",
    "derived_answer",
    "ok",
    "overloaded",
    "rate_limited",
    "server_error",
    "slow",
]

OPENAI_KEY = "sk-test-openai"
ANTHROPIC_KEY = "sk-ant-test"

#: What the model writes: the JSON alone, JSON in a ```json fence with prose, JSON with prose
#: around it, or plain prose that is not JSON at all.
Mode = Literal["json", "fenced", "prose", "text"]


@dataclass
class Behaviour:
    """How to answer one request."""

    status: int = 200
    #: The raw ``Retry-After`` header value (delay-seconds or an HTTP-date).
    retry_after: str | None = None
    #: Seconds to wait before answering (a slow provider; the client may time out first).
    delay: float = 0.0
    mode: Mode = "json"
    #: A raw body to send instead of the provider's (with ``status``).
    body: bytes | None = None
    #: The error's ``code`` (OpenAI) or ``details.error_code`` (Anthropic), e.g. a quota error.
    error_code: str | None = None


def ok(mode: Mode = "json", delay: float = 0.0) -> Behaviour:
    return Behaviour(mode=mode, delay=delay)


def rate_limited(retry_after: str | None = None, error_code: str | None = None) -> Behaviour:
    return Behaviour(status=429, retry_after=retry_after, error_code=error_code)


def server_error(status: int = 500) -> Behaviour:
    return Behaviour(status=status)


def overloaded() -> Behaviour:
    return Behaviour(status=529)


def slow(seconds: float) -> Behaviour:
    return Behaviour(delay=seconds)


@dataclass
class Received:
    """One request as the server got it."""

    #: time.monotonic() and time.time() at arrival.
    at: float
    wall: float
    path: str
    headers: dict[str, str]
    #: The decoded JSON body, or None if it was not JSON.
    body: Any
    #: The status answered (0 if the client went away before the answer).
    status: int = 0


_OPENAI_FIELDS = frozenset(
    [
        "model",
        "messages",
        "temperature",
        "top_p",
        "n",
        "stream",
        "stream_options",
        "stop",
        "max_tokens",
        "max_completion_tokens",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "response_format",
        "seed",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "store",
        "metadata",
        "reasoning_effort",
        "service_tier",
        "modalities",
        "prediction",
        "audio",
        "verbosity",
    ]
)
_ANTHROPIC_FIELDS = frozenset(
    [
        "model",
        "messages",
        "max_tokens",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "metadata",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
        "container",
        "mcp_servers",
    ]
)
_ANTHROPIC_VERSIONS = frozenset({"2023-01-01", "2023-06-01"})


class _Reject(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


class FakeLLM:
    """The server. ``openai_key``/``anthropic_key`` None: that protocol needs no key (like
    Ollama or a local vLLM)."""

    def __init__(
        self,
        *,
        openai_key: str | None = OPENAI_KEY,
        anthropic_key: str | None = ANTHROPIC_KEY,
        host: str = "127.0.0.1",
    ) -> None:
        self.openai_key = openai_key
        self.anthropic_key = anthropic_key
        self.host = host
        self.port = 0
        self.received: list[Received] = []
        self._script: collections.deque[Behaviour] = collections.deque()
        self._runner: web.AppRunner | None = None
        self._ids = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def script(self, *behaviours: Behaviour) -> None:
        """Answer the next requests this way, one behaviour each."""
        self._script.extend(behaviours)

    @property
    def pending(self) -> int:
        """Scripted behaviours not used yet."""
        return len(self._script)

    def statuses(self) -> list[int]:
        return [r.status for r in self.received]

    async def __aenter__(self) -> FakeLLM:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)
        # A short shutdown: a slow answer the client gave up on must not hold the test.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, 0)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self._runner = runner
        return self

    async def __aexit__(self, *exc: object) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # --- the two protocols --------------------------------------------------------------------

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(
            request, self._check_openai, self._openai_error, _OPENAI_FAULTS, "server_error",
            self._openai_reply,
        )  # fmt: skip

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(
            request, self._check_anthropic, self._anthropic_error, _ANTHROPIC_FAULTS,
            "api_error", self._anthropic_reply,
        )  # fmt: skip

    async def _serve(
        self,
        request: web.Request,
        check: Callable[[web.Request, Any], None],
        error: Callable[..., web.Response],
        faults: Mapping[int, tuple[str, str]],
        default_fault: str,
        reply: Callable[[Any, Behaviour], dict[str, Any]],
    ) -> web.StreamResponse:
        """One request, either protocol: validate it, then answer as the script says."""
        record = await self._record(request)
        try:
            check(request, record.body)
        except _Reject as reject:
            return self._answer(record, error(reject.status, reject.kind, reject.message))
        behaviour = self._next()
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.body is not None:
            return self._answer(record, web.Response(status=behaviour.status, body=behaviour.body))
        headers = _retry_headers(behaviour)
        if behaviour.status != 200:
            kind, message = faults.get(behaviour.status, (default_fault, "Error"))
            response = error(behaviour.status, kind, message, behaviour.error_code, headers)
            return self._answer(record, response)
        return self._answer(record, _json(200, reply(record.body, behaviour), headers))

    def _openai_reply(self, body: Any, behaviour: Behaviour) -> dict[str, Any]:
        prompt = _prompt_text(body.get("messages", []))
        content = _render(derived_answer(_user_text(body["messages"])), behaviour.mode)
        prompt_tokens, completion_tokens = _tokens(prompt), _tokens(content)
        self._ids += 1
        return {
            "id": f"chatcmpl-fake{self._ids}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_fake",
        }

    def _anthropic_reply(self, body: Any, behaviour: Behaviour) -> dict[str, Any]:
        system = body.get("system") or ""
        if isinstance(system, list):
            system = " ".join(str(block.get("text", "")) for block in system)
        prompt = system + _prompt_text(body["messages"])
        content = _render(derived_answer(_user_text(body["messages"])), behaviour.mode)
        self._ids += 1
        return {
            "id": f"msg_fake{self._ids:024d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": content}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": _tokens(prompt), "output_tokens": _tokens(content)},
        }

    # --- validation, as the real services do it ---------------------------------------------

    def _check_openai(self, request: web.Request, body: Any) -> None:
        if self.openai_key is not None:
            auth = request.headers.get("Authorization", "")
            if not auth:
                raise _Reject(
                    401,
                    "invalid_request_error",
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                )
            if auth != f"Bearer {self.openai_key}":
                raise _Reject(401, "invalid_request_error", "Incorrect API key provided.")
        if not isinstance(body, dict):
            raise _Reject(
                400, "invalid_request_error", "We could not parse the JSON body of your request."
            )
        for name in body:
            if name not in _OPENAI_FIELDS:
                raise _Reject(
                    400, "invalid_request_error", f"Unrecognized request argument supplied: {name}"
                )
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise _Reject(400, "invalid_request_error", "you must provide a model parameter")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _Reject(
                400, "invalid_request_error", "Invalid 'messages': empty array or not an array."
            )
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in (
                "system",
                "developer",
                "user",
                "assistant",
                "tool",
            ):
                raise _Reject(400, "invalid_request_error", f"Invalid 'messages[{i}].role'.")
            if not _is_content(message.get("content")):
                raise _Reject(400, "invalid_request_error", f"Invalid 'messages[{i}].content'.")
        _check_number(body, "temperature", 0.0, 2.0, "invalid_request_error")
        for name in ("max_tokens", "max_completion_tokens"):
            value = body.get(name)
            if value is not None and (not _is_int(value) or value < 1):
                raise _Reject(
                    400,
                    "invalid_request_error",
                    f"Invalid '{name}': integer below minimum value. Expected a value >= 1.",
                )
        fmt = body.get("response_format")
        if fmt is not None:
            if not isinstance(fmt, dict) or fmt.get("type") not in (
                "text",
                "json_object",
                "json_schema",
            ):
                raise _Reject(400, "invalid_request_error", "Invalid 'response_format'.")
            if fmt["type"] == "json_object" and "json" not in _prompt_text(messages).lower():
                raise _Reject(
                    400,
                    "invalid_request_error",
                    "'messages' must contain the word 'json' in some form, to use "
                    "'response_format' of type 'json_object'.",
                )
        if body.get("stream"):
            raise _Reject(400, "invalid_request_error", "This fake does not stream.")

    def _check_anthropic(self, request: web.Request, body: Any) -> None:
        if self.anthropic_key is not None:
            key = request.headers.get("x-api-key")
            if not key:
                raise _Reject(401, "authentication_error", "x-api-key header is required")
            if key != self.anthropic_key:
                raise _Reject(401, "authentication_error", "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if not version:
            raise _Reject(400, "invalid_request_error", "anthropic-version: header is required")
        if version not in _ANTHROPIC_VERSIONS:
            raise _Reject(
                400, "invalid_request_error", f"anthropic-version: invalid version {version!r}"
            )
        if not isinstance(body, dict):
            raise _Reject(400, "invalid_request_error", "The request body is not valid JSON.")
        for name in body:
            if name not in _ANTHROPIC_FIELDS:
                raise _Reject(
                    400, "invalid_request_error", f"{name}: Extra inputs are not permitted"
                )
        for name in ("model", "max_tokens", "messages"):
            if name not in body:
                raise _Reject(400, "invalid_request_error", f"{name}: Field required")
        if not isinstance(body["model"], str) or not body["model"]:
            raise _Reject(400, "invalid_request_error", "model: Input should be a valid string")
        if not _is_int(body["max_tokens"]) or body["max_tokens"] < 1:
            raise _Reject(
                400,
                "invalid_request_error",
                "max_tokens: Input should be greater than or equal to 1",
            )
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise _Reject(
                400, "invalid_request_error", "messages: at least one message is required"
            )
        for i, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role == "system":
                raise _Reject(
                    400,
                    "invalid_request_error",
                    'messages: Unexpected role "system". The Messages API accepts a top-level '
                    '`system` parameter, not "system" as an input message role.',
                )
            if role not in ("user", "assistant"):
                raise _Reject(400, "invalid_request_error", f"messages.{i}.role: invalid role")
            if not _is_content(message.get("content")) or not message.get("content"):
                raise _Reject(
                    400, "invalid_request_error", f"messages.{i}.content: invalid content"
                )
        if messages[0]["role"] != "user":
            raise _Reject(
                400, "invalid_request_error", 'messages: first message must use the "user" role'
            )
        system = body.get("system")
        if system is not None and not _is_content(system):
            raise _Reject(400, "invalid_request_error", "system: invalid system prompt")
        _check_number(body, "temperature", 0.0, 1.0, "invalid_request_error")
        if body.get("stream"):
            raise _Reject(400, "invalid_request_error", "This fake does not stream.")

    # --- plumbing -----------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> Received:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        record = Received(time.monotonic(), time.time(), request.path, dict(request.headers), body)
        self.received.append(record)
        return record

    def _next(self) -> Behaviour:
        return self._script.popleft() if self._script else Behaviour()

    def _answer(self, record: Received, response: web.Response) -> web.Response:
        record.status = response.status
        return response

    def _openai_error(
        self,
        status: int,
        kind: str,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        error = {"message": message, "type": kind, "param": None, "code": code}
        return _json(status, {"error": error}, headers)

    def _anthropic_error(
        self,
        status: int,
        kind: str,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        error: dict[str, Any] = {"type": kind, "message": message}
        if code is not None:
            error["details"] = {"error_code": code}
        self._ids += 1
        body = {"type": "error", "error": error, "request_id": f"req_fake{self._ids}"}
        return _json(status, body, headers)


_OPENAI_FAULTS = {
    400: ("invalid_request_error", "Bad request."),
    401: ("invalid_request_error", "Incorrect API key provided."),
    404: ("invalid_request_error", "The model does not exist or you do not have access to it."),
    429: ("requests", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", "The server had an error while processing your request. Sorry!"),
    502: ("server_error", "Bad gateway."),
    503: ("server_error", "The engine is currently overloaded, please try again later."),
    529: ("server_error", "Overloaded."),
}
_ANTHROPIC_FAULTS = {
    400: ("invalid_request_error", "Bad request."),
    401: ("authentication_error", "invalid x-api-key"),
    404: ("not_found_error", "model: not found"),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}


def _json(status: int, obj: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(obj),
        content_type="application/json",
        headers=headers,
    )


def _retry_headers(behaviour: Behaviour) -> dict[str, str]:
    return {"retry-after": behaviour.retry_after} if behaviour.retry_after is not None else {}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_content(value: object) -> bool:
    """A string, or a list of text blocks."""
    if isinstance(value, str):
        return True
    return isinstance(value, list) and all(
        isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        for b in value
    )


def _check_number(body: dict[str, Any], name: str, low: float, high: float, kind: str) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _Reject(400, kind, f"{name}: Input should be a number between {low:g} and {high:g}")


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def _prompt_text(messages: object) -> str:
    if not isinstance(messages, list):
        return ""
    return "".join(_content_text(m.get("content")) for m in messages if isinstance(m, dict))


def _user_text(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    return _content_text(users[-1].get("content")) if users else ""


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


# --- the "model" ------------------------------------------------------------------------------

_ARTICLE = re.compile(r"<article>\s*(.*?)\s*</article>", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_STOPWORDS = {
    "en": {"the", "and", "of", "to", "is", "in", "that", "it", "with", "for"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "mit", "ein", "eine", "zu"},
    "fr": {"le", "la", "les", "et", "est", "des", "une", "dans", "que", "pour"},
}


def derived_answer(user_message: str) -> dict[str, Any]:
    """The analysis the fake model gives for a prompt: first sentence, top words, language."""
    found = _ARTICLE.search(user_message)
    text = found.group(1) if found else user_message
    lines = text.splitlines()
    if lines and lines[0].startswith("Title:"):
        text = "\n".join(lines[1:])
    text = " ".join(text.split())
    summary = _SENTENCE_END.split(text, maxsplit=1)[0] if text else ""
    words = [w.lower() for w in re.findall(r"\w+", text)]
    counts = collections.Counter(w for w in words if len(w) >= 5)
    keywords = [w for w, _ in counts.most_common(3)]
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    language = max(scores, key=lambda lang: scores[lang]) if any(scores.values()) else "en"
    return {"summary": summary, "keywords": keywords, "language": language}


def _render(answer: dict[str, Any], mode: Mode) -> str:
    as_json = orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode()
    if mode == "fenced":
        return f"Here is the analysis you asked for:\n\n```json\n{as_json}\n```\n\nHope it helps."
    if mode == "prose":
        return f"Sure! {as_json} Let me know if you need more."
    if mode == "text":
        return f"I read it. {answer['summary']}"
    return as_json
