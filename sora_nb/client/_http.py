"""The client's HTTP: httpx's API on aiohttp's connections, through
httpx-aiohttp.

httpx stays the client's interface (requests, auth, redirects, errors); the
bytes travel over aiohttp, for about half the kernel's CPU of httpx's default
transport with a thousand streams (measured: docs/network.md). ``Transport`` is
httpx-aiohttp's ``AiohttpTransport`` (its TLS context and session lifecycle)
with its request path replaced, because that path breaks promises this client
makes:

* its error map calls a refused connection or a bad certificate a
  ``ConnectTimeout``, and a relay that read the POST and hung up a connect
  error, which the client retries: the generation was sent, and could be paid,
  three times. Here only a connection that never opened is a connect error;
  anything after the request went out is a read or protocol error.
* timeouts get the client's sentences ("the relay sent nothing for 600 s");
* user-info in the URL is dropped (httpx has already decided the Authorization
  header; aiohttp would refuse the two together);
* a body over 1 MiB (an inline image) goes as a ``BytesIO``, which aiohttp
  streams;
* ``HTTPS_PROXY`` / ``NO_PROXY`` are read once per host, not on a thread per
  request;
* the connector has no limit (``limit=0``): the relay's limiter decides, never a
  pool.

aiohttp has no write timeout; a relay that stops reading an upload is bounded by
the read timeout and the generation's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import io
import os
import ssl
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import aiohttp
import httpx
import yarl
from aiohttp.helpers import get_env_proxy_for_url
from httpx_aiohttp import AiohttpTransport

from ..dialects._body import READ

__all__ = ["Transport", "http_client"]

#: aiohttp warns of a ``bytes`` body above this; larger go as a ``BytesIO``.
_LARGE_BODY = 2**20


def http_client(timeout: httpx.Timeout, transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    """The client's ``httpx.AsyncClient`` on ``transport``, with ``_Cookies``
    for its jar.
    """
    client = httpx.AsyncClient(timeout=timeout, transport=transport)
    # the setter would copy it into a plain ``httpx.Cookies``
    client._cookies = _Cookies()
    return client


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, that looks at a response only when it sets a cookie:
    httpx wraps every response and its request for ``http.cookiejar`` otherwise,
    a few per cent of a stream's CPU for relays that set none.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class Transport(AiohttpTransport):
    """An httpx transport over one aiohttp session (see the module doc)."""

    def __init__(self) -> None:
        super().__init__(verify=_tls_context())
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str, int | None], tuple[str | None, Any]] = {}
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}
        self._closer: AsyncGenerator[None, None] | None = None
        # The bodies' read timers run in it: they read no context variable, and
        # a copy of the caller's would be one more object for each stream. One
        # per transport, which has one loop: a context is entered by one thread
        # at a time.
        self._quiet = contextvars.Context()

    def _open(self) -> aiohttp.ClientSession:
        # made on the loop that uses it, as aiohttp requires
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, ssl=self.ssl_context)
            self._session = self.client = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
                auto_decompress=False,  # httpx decodes Content-Encoding
            )
            # A client nobody closed closes its connections when its loop ends,
            # or when it is dropped, instead of aiohttp's "Unclosed client
            # session" on stderr.
            self._closer = _closed_with_loop(connector)
            asyncio.get_running_loop().create_task(anext(self._closer))
            weakref.finalize(self, _close_now, connector)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        url = request.url.copy_with(userinfo=b"") if request.url.userinfo else request.url
        headers, data = _body(request)
        proxy, proxy_auth = self._proxy(url)
        try:  # (no coroutine of its own: one object less a request)
            response = await self._open().request(
                request.method,
                yarl.URL(str(url), encoded=True),
                headers=headers,
                data=data,
                # httpx follows them, with its own auth rules
                allow_redirects=False,
                timeout=self._timeout(timeout),
                server_hostname=request.extensions.get("sni_hostname"),
                proxy=proxy,
                proxy_auth=proxy_auth,
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _mapped(exc, timeout, https=url.scheme == "https") from exc
        body = _Body(response, timeout, self._quiet)
        extensions = {"http_version": b"HTTP/1.1", READ: body.read}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        answer = httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=body,
            request=request,
            extensions=extensions,
        )
        body._answer = weakref.ref(answer)
        return answer

    def _proxy(self, url: httpx.URL) -> tuple[str | None, Any]:
        """The proxy ``HTTP(S)_PROXY`` names for ``url``'s origin, unless
        ``NO_PROXY`` spares it.
        """
        key = (url.scheme, url.host, url.port)
        if key not in self._proxies:
            origin = yarl.URL.build(scheme=url.scheme, host=url.host, port=url.port)
            try:
                proxy, auth = get_env_proxy_for_url(origin)
            except LookupError:
                self._proxies[key] = (None, None)
            else:
                self._proxies[key] = (str(proxy), auth)
        return self._proxies[key]

    def _timeout(self, timeout: dict[str, float | None]) -> aiohttp.ClientTimeout:
        key = tuple(sorted(timeout.items()))
        if key not in self._timeouts:
            # httpx's connect timeout covers DNS, TCP and TLS, as aiohttp's
            # ``connect`` does; one timer a request, not a second for the
            # socket alone. httpx's ``pool`` has nothing to time: no pool limit.
            self._timeouts[key] = aiohttp.ClientTimeout(
                total=None,
                connect=timeout.get("connect"),
                sock_read=timeout.get("read"),  # a gap between bytes
            )
        return self._timeouts[key]

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._closer is not None:
            await self._closer.aclose()
        self._session = self.client = self._closer = None


async def _closed_with_loop(connector: aiohttp.BaseConnector) -> AsyncGenerator[None, None]:
    """Suspended once started; its loop's ``shutdown_asyncgens()``
    (``asyncio.run`` calls it) resumes it into ``finally``, the one hook asyncio
    gives for a loop that ends.
    """
    try:
        yield
    finally:
        await connector.close()


def _close_now(connector: aiohttp.BaseConnector) -> None:
    """Close ``connector``'s connections without awaiting (its loop may be
    gone).
    """
    # a loop closed at exit: the OS closes them
    with contextlib.suppress(RuntimeError):
        connector._close()


#: A closed answer's stream.
_SPENT = httpx.ByteStream(b"")


class _Body(httpx.AsyncByteStream):
    """A response body read straight from aiohttp's buffer, its errors mapped to
    httpx's.

    The read timeout (a gap between bytes) is kept here with one timer a stream,
    looked at when it fires, instead of aiohttp's, which re-arms a timer for
    every chunk received: with a thousand streams of small SSE chunks that was
    ~5 % of the client's CPU.
    """

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        timeout: dict[str, float | None],
        quiet: contextvars.Context,
    ):
        self._response: aiohttp.ClientResponse | None = response
        self._quiet = quiet
        self._answer: weakref.ref[httpx.Response] | None = None
        content = response.content
        self._content: aiohttp.StreamReader | None = content
        self._timeout = timeout
        self._timer: asyncio.TimerHandle | None = None
        self._loop = loop = asyncio.get_running_loop()
        # as of the last read
        self._seen, self._last = content.total_bytes, loop.time()
        read = timeout.get("read")
        protocol = response.connection.protocol if response.connection else None
        if read is not None and protocol is not None:
            # the head has come: from here the body's timer
            protocol.read_timeout = None
            # (with no timeout, this cancels the head's timer)
            protocol.start_timeout()
            self._timer = loop.call_later(read, self._look, read, context=self._quiet)

    def _look(self, read: float) -> None:
        content, now = self._content, self._loop.time()
        if content is None or content.at_eof():
            return
        # bytes came that were not read yet
        if content.total_bytes != self._seen:
            self._seen, self._last = content.total_bytes, now
        if now - self._last >= read:
            message = f"the relay sent nothing for {_seconds(read)}"
            content.set_exception(aiohttp.SocketTimeoutError(message))
            return
        self._timer = self._loop.call_later(
            self._last + read - now, self._look, read, context=self._quiet
        )

    async def read(self) -> bytes:
        """The bytes that have come (waiting for some); ``b""`` at the end."""
        content = self._content
        if content is None:
            raise httpx.StreamClosed()
        try:
            data = await content.readany()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _mapped(exc, self._timeout, https=False) from exc
        self._seen, self._last = content.total_bytes, self._loop.time()
        return data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while data := await self.read():
            yield data

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None  # it holds this body
        response, self._response = self._response, None
        if response is None:
            return
        # Unread bytes close the connection; a whole body goes back to the pool.
        response.release()
        await response.wait_for_close()
        # httpx's response and its stream hold each other until the garbage
        # collector runs: aiohttp's response, buffer and socket go now.
        self._content = None
        # Cut httpx's response from the wrapper it put round this stream: the
        # request, its body (an inline image, maybe) and both headers go as
        # soon as nothing holds the answer, not at the next full collection.
        answer = self._answer() if self._answer is not None else None
        if answer is not None:
            answer.stream = _SPENT


@functools.lru_cache(maxsize=4)
def _tls_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # httpx reads SSL_CERT_FILE / SSL_CERT_DIR itself; the arguments only key
    # the cache.
    return httpx.create_ssl_context(trust_env=True)


def _tls_context() -> ssl.SSLContext:
    """httpx's TLS context for the current certificate settings, made once for
    each: loading the authorities takes tens of milliseconds, once per client
    otherwise.
    """
    return _tls_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


def _body(request: httpx.Request) -> tuple[httpx.Headers, object]:
    """The headers and body to hand aiohttp: over 1 MiB as a ``BytesIO``, which
    aiohttp writes in pieces; a streamed upload as the stream, which aiohttp
    frames itself.
    """
    try:
        content = request.content
    except httpx.RequestNotRead:
        headers = request.headers.copy()
        headers.pop("transfer-encoding", None)
        return headers, request.stream
    if len(content) > _LARGE_BODY:
        return request.headers, io.BytesIO(content)
    return request.headers, content or None


def _mapped(
    exc: BaseException, timeout: dict[str, float | None], *, https: bool
) -> httpx.TransportError:
    """httpx's error for an aiohttp one: a connect error if nothing was sent."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        waited = _seconds(timeout.get("connect"))
        if https and _in_handshake(exc):
            return httpx.ConnectTimeout(f"the TLS handshake took over {waited}")
        return httpx.ConnectTimeout(f"the relay did not accept the connection in {waited}")
    # aiohttp's socket read timeout among them
    if isinstance(exc, asyncio.TimeoutError):
        return httpx.ReadTimeout(f"the relay sent nothing for {_seconds(timeout.get('read'))}")
    # refused, DNS, bad certificate, proxy
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(_text(exc.os_error))
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return httpx.ProxyError(_text(exc))
    # maybe after reading the request
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError("Server disconnected without sending a response.")
    if isinstance(exc, aiohttp.ClientResponseError):  # not HTTP
        return httpx.RemoteProtocolError(_text(exc))
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(_text(exc))
    return httpx.ReadError(_text(exc))  # a reset, a body cut short


def _in_handshake(exc: BaseException) -> bool:
    """Whether a connect timeout fired during the TLS handshake.

    aiohttp times the TCP connect and the handshake as one; only the stack the
    timeout interrupted (asyncio's transport setup, past the connect) tells them
    apart.
    """
    seen: BaseException | None = exc
    while seen is not None:
        tb = seen.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_name == "_create_connection_transport":
                return True
            tb = tb.tb_next
        seen = seen.__cause__ or seen.__context__
    return False


def _seconds(timeout: float | None) -> str:
    return f"{timeout:g} s" if timeout is not None else "aiohttp's default time"


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
