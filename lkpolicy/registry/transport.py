"""HTTP to servers that are not trusted: registries, notary servers, TUF repositories.

One place for what every client of such a server needs: a connection pool without retries (they
multiply what a stalled server costs), one wording of connection failures
(`describe_connection_error`), and transfers that end: besides the per-read timeout, every
request runs under a deadline of `deadline_floor` seconds plus its size at `min_rate` bytes per
second. The deadline covers the TLS handshake, the answer's headers and its body, so that a server
that drips one byte per second, each under the per-read timeout, fails too. It is enforced by one
watchdog thread that shuts the socket down when a transfer falls behind (a blocked read cannot be
interrupted otherwise); the reader then reports it as one line.

urllib3 gives the thread-safe keep-alive pool (one TLS handshake per server, not per blob) and
bounded streaming reads; it is imported on the first request, so that importing lkpolicy stays
cheap.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lkpolicy.redaction import redact_secrets, redact_url
from lkpolicy.registry.errors import clean_text

if TYPE_CHECKING:
    import urllib3
    from urllib3.response import BaseHTTPResponse

log = logging.getLogger("lkpolicy.registry")

DEFAULT_TIMEOUT = 30.0
DEFAULT_DEADLINE_FLOOR = 60.0
DEFAULT_MIN_RATE = 16 * 1024
MAX_ERROR_BODY = 64 * 1024
"""Bytes of an error answer that are read (for its message) or drained (to keep the connection)."""


class TransportError(Exception):
    """A request failed; `str()` is one line that names the server (never credentials)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(redact_secrets(message).split()))


@dataclass(frozen=True)
class TransferLimits:
    """How long a transfer may take.

    `timeout` bounds connecting and every single read. A whole transfer of N bytes (TLS handshake,
    headers and body) must end within `deadline_floor + N / min_rate` seconds, checked as it goes:
    after the floor, the bytes received so far must keep up with `min_rate`.
    """

    timeout: float = DEFAULT_TIMEOUT
    deadline_floor: float = DEFAULT_DEADLINE_FLOOR
    min_rate: float = DEFAULT_MIN_RATE

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.deadline_floor <= 0:
            raise ValueError("the deadline floor must be positive")
        if self.min_rate <= 0:
            raise ValueError("the minimum transfer rate must be positive")

    def deadline(self, size: int) -> float:
        """Seconds a transfer of `size` bytes may take."""
        return self.deadline_floor + size / self.min_rate


def check_server_url(url: str, what: str) -> str:
    """`url` if it names a server as `http(s)://host[:port][/path]` without credentials, else a
    ValueError that shows it redacted. Credentials are refused rather than dropped: nothing here
    would send them, and a server URL ends up in messages, logs and reports."""
    parts = urlsplit(url)
    shown = redact_url(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what}: {shown!r} is not an http(s) URL")
    if "@" in url.partition("://")[2]:
        raise ValueError(f"{what}: {shown!r} must not contain credentials")
    return url


def host_port(url: str) -> str:
    """The `host[:port]` of a URL, without any `user:password@`."""
    return urlsplit(url).netloc.rpartition("@")[2]


def host_only(netloc: str) -> str:
    """`host` of `host:port` (and of `[v6]:port`)."""
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


# --------------------------------------------------------------------------------------- wording


def os_reason(error: BaseException) -> str:
    """The innermost OS-level reason ("connection refused"), without URLs or headers."""
    seen: BaseException | None = error
    reason: BaseException = error
    depth = 0
    while seen is not None and depth < 8:
        reason = seen
        nested = getattr(seen, "reason", None)
        seen = nested if isinstance(nested, BaseException) else (seen.__cause__ or seen.__context__)
        depth += 1
    import ssl

    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {reason.verify_message}"
    if isinstance(reason, ssl.SSLError):
        return clean_text(str(reason.reason or reason.strerror or reason).lower(), 160)
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    text = str(reason) or type(reason).__name__
    text = re.sub(r"<[^>]*>: ", "", text)
    return clean_text(text, 160)


def describe_connection_error(error: BaseException, netloc: str, timeout: float, *,
                              reading: bool = False) -> str:
    """One line for an exception from urllib3 (or the socket) while talking to `netloc`.

    `reading`: the answer had started (the body was being read). The checks go from the most
    specific class: urllib3 derives NewConnectionError (a refused connection) from
    ConnectTimeoutError, and NameResolutionError from NewConnectionError.
    """
    import urllib3.exceptions as errors

    seconds = f"{timeout:g}s"
    if isinstance(error, errors.NameResolutionError):
        return f"cannot resolve host {host_only(netloc)}"
    if isinstance(error, errors.NewConnectionError):
        return f"cannot connect to {netloc}: {os_reason(error)}"
    if isinstance(error, errors.ConnectTimeoutError):
        return f"timed out after {seconds} connecting to {netloc}"
    if isinstance(error, errors.ReadTimeoutError | TimeoutError):
        return f"timed out after {seconds} reading from {netloc}"
    if isinstance(error, errors.SSLError):
        return f"TLS error talking to {netloc}: {os_reason(error)}"
    if reading:
        return f"connection to {netloc} failed while reading: {os_reason(error)}"
    return f"connection to {netloc} failed: {os_reason(error)}"


def _too_slow(netloc: str, limits: TransferLimits, received: int | None, elapsed: float) -> str:
    if received is None:
        return (f"too slow: {netloc} sent no complete answer header within "
                f"{limits.deadline_floor:g}s")
    return (f"too slow: {netloc} sent {received} bytes in {elapsed:.1f}s, below the minimum of "
            f"{limits.min_rate:g} bytes/s after {limits.deadline_floor:g}s")


# --------------------------------------------------------------------------------------- deadlines


class _Clock:
    """The deadline of one transfer, and the socket to shut down when it passes."""

    def __init__(self, limits: TransferLimits) -> None:
        self.limits = limits
        self.start: float | None = None
        self.expired = False
        self._socket: socket.socket | None = None
        self._duplicate: socket.socket | None = None

    def attach(self, sock: socket.socket, *, duplicate: bool = False) -> None:
        """The transfer's socket. `duplicate`: `sock` is our own duplicate of the connection's
        TCP socket, which TLS is about to take over (and detach), closed when done."""
        self._socket = sock
        self._close_duplicate()
        if duplicate:
            self._duplicate = sock
        if self.start is None:
            self.start = time.monotonic()
            _watchdog().arm(self, self.start + self.limits.deadline_floor)
        if self.expired:
            self.expire()

    def allow(self, total: int) -> None:
        """`total` body bytes must have arrived by the deadline their size gives."""
        if self.start is not None:
            _watchdog().arm(self, self.start + self.limits.deadline(total))

    def elapsed(self) -> float:
        return time.monotonic() - self.start if self.start is not None else 0.0

    def expire(self) -> None:
        """Called by the watchdog: unblock the reader by shutting the socket down."""
        self.expired = True
        sock = self._socket
        if sock is not None:
            # socket.socket's own shutdown: an SSLSocket's would unwrap TLS under the reader.
            # shutdown() acts on the connection, so a duplicate's ends the original's reads too.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def stop(self) -> None:
        _watchdog().disarm(self)
        self._socket = None
        self._close_duplicate()

    def _close_duplicate(self) -> None:
        duplicate, self._duplicate = self._duplicate, None
        if duplicate is not None and duplicate is not self._socket:
            duplicate.close()


class _Watchdog:
    """One daemon thread that expires the transfers whose deadline has passed."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._condition = threading.Condition()
        self._deadlines: dict[_Clock, float] = {}
        self._thread: threading.Thread | None = None

    def arm(self, clock: _Clock, deadline: float) -> None:
        with self._condition:
            self._deadlines[clock] = deadline
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="lkpolicy-transfer-deadlines")
                self._thread.start()
            self._condition.notify()

    def disarm(self, clock: _Clock) -> None:
        with self._condition:
            self._deadlines.pop(clock, None)

    def _run(self) -> None:
        with self._condition:
            while True:
                if not self._deadlines:
                    self._condition.wait()
                    continue
                clock, deadline = min(self._deadlines.items(), key=lambda item: item[1])
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._condition.wait(delay)
                    continue
                del self._deadlines[clock]
                clock.expire()


_WATCHDOG_LOCK = threading.Lock()
_WATCHDOG: list[_Watchdog] = []
_current = threading.local()
"""The transfer whose request the calling thread is sending (read by the connection hooks)."""


def _watchdog() -> _Watchdog:
    with _WATCHDOG_LOCK:
        # A forked child has the parent's watchdog object but not its thread: start afresh.
        if not _WATCHDOG or _WATCHDOG[0].pid != os.getpid():
            _WATCHDOG[:] = [_Watchdog()]
        return _WATCHDOG[0]


def _watch(sock: socket.socket, *, handshake: bool = False) -> None:
    """Hand the socket to the transfer the calling thread is sending, if any. `handshake`: TLS is
    about to wrap the socket and detach this object from it, so the clock gets a duplicate."""
    clock = getattr(_current, "clock", None)
    if clock is not None:
        if handshake:
            clock.attach(sock.dup(), duplicate=True)
        else:
            clock.attach(sock)


@functools.cache
def _pool_classes() -> dict[str, Any]:
    """urllib3 pools whose connections hand their sockets to the current transfer's clock."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.response import HTTPResponse

    class WatchedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            # The only hook that sees the socket before TLS shakes hands over it.
            sock = super()._new_conn()
            _watch(sock, handshake=True)
            return sock

        def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3 itself
            if self.sock is not None:
                _watch(self.sock)
            return super().getresponse()

    # Before HTTPSConnection in the MRO, so that `super()` above reaches TLS's `connect`.
    class WatchedHTTPSConnection(WatchedHTTPConnection, HTTPSConnection):
        pass

    class WatchedHTTPPool(HTTPConnectionPool):
        ConnectionCls = WatchedHTTPConnection

    class WatchedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = WatchedHTTPSConnection

    return {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}


# --------------------------------------------------------------------------------------- pool


def create_pool(limits: TransferLimits, *, ca_file: str | None, system_store: bool, size: int,
                block: bool, hosts: int = 32) -> urllib3.PoolManager:
    """A pool for `hosts` servers with `size` connections each, never retrying or redirecting.

    `ca_file` adds trusted certificates to the system store (`system_store`), or replaces it: a
    private server's own CA as the only anchor does not widen trust, and skipping the system
    store saves ~15 ms per client. `block`: more concurrent requests wait for a connection
    instead of opening throwaway ones."""
    import ssl

    import urllib3

    if ca_file and not system_store:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        context = ssl.create_default_context()
    if ca_file:
        from lkpolicy.safeio import MAX_TRUST_FILE_BYTES, read_regular_file

        try:
            # Read by us, bounded: OpenSSL would read a FIFO or /dev/zero forever.
            pem = read_regular_file(ca_file, MAX_TRUST_FILE_BYTES, "CA file")
            context.load_verify_locations(
                cadata=pem.decode("ascii", "replace") if b"-----BEGIN" in pem else pem)
        except (OSError, ValueError) as error:
            raise TransportError(f"cannot load CA certificates from {ca_file}: "
                                 f"{os_reason(error)}") from None
    manager = urllib3.PoolManager(num_pools=hosts, maxsize=size, block=block,
                                  timeout=urllib3.Timeout(connect=limits.timeout,
                                                          read=limits.timeout),
                                  retries=False, ssl_context=context)
    manager.pool_classes_by_scheme = _pool_classes()
    return manager


# --------------------------------------------------------------------------------------- requests


class Response:
    """An answer whose body is read under the transfer's deadline; release it when done."""

    def __init__(self, raw: BaseHTTPResponse, url: str, limits: TransferLimits,
                 clock: _Clock) -> None:
        self.raw = raw
        self.url = url
        self.netloc = host_port(url)
        self.limits = limits
        self.received = 0
        self._clock = clock

    @property
    def status(self) -> int:
        return self.raw.status

    @property
    def reason(self) -> str | None:
        return self.raw.reason

    @property
    def headers(self) -> Any:
        return self.raw.headers

    @property
    def content_length(self) -> int | None:
        value = self.raw.headers.get("Content-Length")
        if value is None or not value.strip().isdigit():
            return None
        return int(value)

    def read(self, amount: int) -> bytes:
        """Up to `amount` bytes (b"" at the end); a failure or a missed deadline is a
        TransportError."""
        import urllib3.exceptions as errors

        declared = self.content_length
        total = self.received + amount
        self._clock.allow(min(total, declared) if declared is not None else total)
        try:
            chunk = self.raw.read(amount)
        except (errors.HTTPError, OSError) as error:
            if self._clock.expired:
                raise TransportError(_too_slow(self.netloc, self.limits, self.received,
                                               self._clock.elapsed())) from None
            raise TransportError(describe_connection_error(error, self.netloc,
                                                           self.limits.timeout,
                                                           reading=True)) from None
        if self._clock.expired:
            # The deadline passed while the last bytes came in: the socket is already shut.
            raise TransportError(_too_slow(self.netloc, self.limits, self.received + len(chunk),
                                           self._clock.elapsed()))
        self.received += len(chunk)
        return chunk

    def read_limited(self, limit: int, chunk_size: int) -> bytes | None:
        """The whole body, or None when it is longer than `limit` (reading stops one byte
        past the limit)."""
        chunks: list[bytes] = []
        received = 0
        while True:
            chunk = self.read(min(chunk_size, limit + 1 - received))
            if not chunk:
                return b"".join(chunks)
            received += len(chunk)
            if received > limit:
                return None
            chunks.append(chunk)

    def release(self) -> None:
        """Return the connection to the pool, or close it when that would mean reading a body."""
        raw = self.raw
        self._clock.stop()
        try:
            if self._clock.expired:
                raw.close()
            elif not raw.closed:
                remaining = raw.length_remaining
                small_answer = not 200 <= raw.status < 300 and (remaining or 0) <= MAX_ERROR_BODY
                if remaining == 0 or (remaining is not None and small_answer):
                    # Nothing or little left (a HEAD, a 401, a redirect): reading it marks the
                    # http.client response finished, and the kept-alive connection can be
                    # reused. An unfinished 2xx body is not drained: it may be huge, or stalled.
                    raw.drain_conn()
                else:
                    raw.close()
        finally:
            raw.release_conn()


class TooLarge(TransportError):
    """A body longer than the limit (declared, or counted while reading)."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"more than {limit} bytes (got at least {size})")


def get_document(pool: urllib3.PoolManager, url: str, limits: TransferLimits, limit: int, *,
                 chunk_size: int = 64 * 1024) -> tuple[int, bytes]:
    """GET a small document (trust metadata): `(200, body)`, or `(status, b"")` for any other
    answer, whose body is not read. TooLarge when the body exceeds `limit`; TransportError."""
    response = request(pool, "GET", url, limits)
    try:
        if response.status != 200:
            return response.status, b""
        declared = response.content_length
        if declared is not None and declared > limit:
            raise TooLarge(declared, limit)
        data = response.read_limited(limit, chunk_size)
        if data is None:
            raise TooLarge(limit + 1, limit)
        return 200, data
    finally:
        response.release()


def request(pool: urllib3.PoolManager, method: str, url: str, limits: TransferLimits, *,
            headers: dict[str, str] | None = None, body: bytes | None = None) -> Response:
    """Send one request (no redirects followed) and return the answer with its headers read."""
    import urllib3.exceptions as errors

    netloc = host_port(url)
    log.debug("%s %s://%s%s", method, urlsplit(url).scheme, netloc, urlsplit(url).path)
    clock = _Clock(limits)
    _current.clock = clock
    try:
        # decode_content=False: digests are over the bytes as stored, never a decoding of them.
        raw = pool.request(method, url, headers=headers, body=body, preload_content=False,
                           decode_content=False, redirect=False)
    except (errors.HTTPError, OSError) as error:
        clock.stop()
        if clock.expired:
            raise TransportError(_too_slow(netloc, limits, None, clock.elapsed())) from None
        raise TransportError(describe_connection_error(error, netloc, limits.timeout)) from None
    finally:
        _current.clock = None
    return Response(raw, url, limits, clock)
