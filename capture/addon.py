"""Glass capture: a mitmproxy addon that keeps every Claude API exchange as a file.

Load it like any addon:

    mitmdump -s capture/addon.py --set capture_dir=captures

Each request matching `capture_providers` (capture/providers.py: Anthropic, Bedrock, Vertex,
a gateway) becomes one pretty-printed JSON file (format and naming
in README.md, "Capture file format"). The file is written as soon as the
request has passed (the writer waits up to 50 ms for its end, so that a fast
exchange is written once), and rewritten in place once the response has ended
or the flow has failed. Server-sent event streams and Bedrock's AWS event streams are teed
chunk by chunk, so Claude Code receives every event as fast as without the proxy.

Hook order within a flow: (requestheaders ->) request -> responseheaders ->
response | error.
The hooks only copy data off the flow and hand it to the writer process
(`capture.writer`), which does the parsing and the disk work. Nothing in here
may raise into mitmproxy: a failure is logged and the flow goes on untouched.
"""

# No `from __future__ import annotations` here: mitmproxy loads this file as a
# script outside sys.modules, where dataclasses cannot resolve string annotations.
import functools
import itertools
import logging
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (
    None,
    "",
    "__mitmproxy_script__",
):  # loaded by path: mitmdump -s capture/addon.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mitmproxy import ctx, exceptions, http
from mitmproxy.addonmanager import Loader

from capture import files, providers, record, schedule
from capture.writer import WriteEnd, Writer, WriteRequest, make_writer
from glass.config import DEFAULT_PROVIDERS
from glass.contract import ANALYZER_HEADER, PROXY_READY

logger = logging.getLogger("glass.capture")

MAX_STREAM_BYTES = 64 * 1024 * 1024
"""Streamed bodies beyond this are passed on but no longer kept (marked truncated)."""


def _never_raise(hook: Callable) -> Callable:
    """Log any exception of a hook instead of letting it disturb the flow."""

    @functools.wraps(hook)
    def wrapper(self, *args, **kwargs):
        try:
            return hook(self, *args, **kwargs)
        except Exception:
            logger.exception("capture hook %s failed; the flow continues untouched", hook.__name__)

    return wrapper


class StreamTee:
    """`flow.response.stream` callable: passes every chunk on and keeps a copy."""

    def __init__(self, inner: Callable[[bytes], bytes | Iterable[bytes]] | None = None) -> None:
        self.inner = inner
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def __call__(self, data: bytes) -> bytes | Iterable[bytes]:
        if data:
            if self.size + len(data) <= MAX_STREAM_BYTES:
                self.chunks.append(data)
                self.size += len(data)
            else:
                self.truncated = True
        return data if self.inner is None else self.inner(data)

    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass(kw_only=True)
class Exchange:
    """One captured exchange in flight."""

    message: WriteRequest
    sent_to: int | None
    """The writer that got the request (None: it was skipped); any other needs it resent."""
    tee: StreamTee | None = None
    path: str | None = None
    """Where the writer put the request (it reports back), for a restarted writer."""


class Capture:
    def __init__(self) -> None:
        self.writer: Writer | None = None
        """A WriterProcess (a WriterThread in a frozen mitmproxy); None before `configure`."""
        self.providers = providers.Matcher(())
        """`capture_providers`, compiled: what is captured (capture/providers.py)."""
        self.in_flight: dict[str, Exchange] = {}
        self.by_xid: dict[int, Exchange] = {}
        self.request_tees: dict[str, StreamTee] = {}
        """Request bodies mitmproxy streams (`stream_large_bodies`): our copy of them."""
        self._xids = itertools.count(1)
        self.compaction: schedule.Schedule | None = None
        """Compaction once after start, then daily (capture/schedule.py); None: off."""

    # -- configuration ---------------------------------------------------------

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "capture_dir",
            str,
            "captures",
            "Folder for Glass capture files (one sub-folder per local day).",
        )
        loader.add_option(
            "capture_providers",
            Sequence[str],
            [providers.to_option(p) for p in DEFAULT_PROVIDERS],
            "What is captured, one entry per value: 'NAME HOST[,HOST…] PATH[,PATH…]' with NAME "
            "anthropic, bedrock, vertex or gateway and the patterns of capture.providers.",
        )
        loader.add_option(
            "capture_compact_config",
            str,
            "",
            "config.yaml to compact captures by, once after start and daily; empty: never.",
        )

    def configure(self, updated: set[str]) -> None:
        try:
            entries = [providers.from_option(v) for v in ctx.options.capture_providers]
        except ValueError as e:
            raise exceptions.OptionsError(f"capture_providers: {e}") from None
        if not entries:
            raise exceptions.OptionsError("capture_providers must name at least one provider")
        if not ctx.options.capture_dir:
            raise exceptions.OptionsError("capture_dir must not be empty")
        self.providers = providers.Matcher(entries)
        root = Path(ctx.options.capture_dir).expanduser().absolute()
        if self.writer is None or self.writer.root != root:
            try:
                files.ensure_dir(root)
                root.chmod(0o700)
            except OSError as e:
                # Not fatal: the proxy keeps serving and every write retries. A warning,
                # since mitmdump exits on an error logged during startup.
                logger.warning("capture folder %s is not usable (captures will fail): %s", root, e)
            if self.writer is not None:
                self.writer.close()
            self.writer = make_writer(root, on_path=self._written_at)
        if updated & {"capture_dir", "capture_providers"}:
            logger.info(PROXY_READY + " to %s into %s", self.providers.describe(), root)

    def running(self) -> None:
        if ctx.options.capture_compact_config and self.compaction is None:
            config = Path(ctx.options.capture_compact_config)
            self.compaction = schedule.Schedule(schedule.compact_command(config)).start()

    def done(self) -> None:
        if self.compaction is not None:
            self.compaction.stop()
            self.compaction = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def flush(self) -> None:
        """Wait until the writer has handled everything so far (tests; mitmproxy calls `done`)."""
        if self.writer is not None:
            self.writer.flush()

    # -- flow hooks ------------------------------------------------------------

    @_never_raise
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        stream = flow.request.stream
        if stream and self._wanted(flow):  # mitmproxy will not keep the body: keep a copy
            tee = StreamTee(stream if callable(stream) else None)
            self.request_tees[flow.id] = flow.request.stream = tee

    @_never_raise
    def request(self, flow: http.HTTPFlow) -> None:
        tee = self.request_tees.pop(flow.id, None)
        match = self._wanted(flow)
        writer = self.writer
        if match is None or writer is None:
            return
        req = flow.request
        snap = record.RequestSnapshot(
            started=req.timestamp_start or time.time(),
            method=req.method,
            url=self._asked_url(flow, match.host),
            headers=record.header_pairs(req.headers.fields),
            raw=tee.body() if tee else (req.raw_content or b""),
            provider=match.provider,
        )
        message = WriteRequest(
            xid=next(self._xids), request=snap, endpoint=providers.endpoint_of(req.path)
        )
        exchange = Exchange(message=message, sent_to=None)
        self.in_flight[flow.id] = self.by_xid[message.xid] = exchange
        if writer.send(message, skippable=True):
            exchange.sent_to = writer.generation

    @_never_raise
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        exchange = self.in_flight.get(flow.id)
        if exchange is None or flow.response is None:
            return
        stream = flow.response.stream
        content_type = flow.response.headers.get("content-type", "").lower()
        if record.is_event_stream(content_type) or stream:
            # Stream it on as it arrives; keep a copy for the capture file.
            exchange.tee = StreamTee(stream if callable(stream) else None)
            flow.response.stream = exchange.tee

    @_never_raise
    def response(self, flow: http.HTTPFlow) -> None:
        exchange = self.in_flight.pop(flow.id, None)
        if exchange is None or flow.response is None:
            return
        self._end(exchange, self._response_snapshot(flow, flow.response, exchange), None)

    @_never_raise
    def error(self, flow: http.HTTPFlow) -> None:
        self.request_tees.pop(flow.id, None)
        exchange = self.in_flight.pop(flow.id, None)
        if exchange is None:
            return
        snap = self._response_snapshot(flow, flow.response, exchange) if flow.response else None
        self._end(exchange, snap, flow.error.msg if flow.error else "unknown error")

    # -- helpers -----------------------------------------------------------------

    def _end(
        self, exchange: Exchange, snap: record.ResponseSnapshot | None, error: str | None
    ) -> None:
        self.by_xid.pop(exchange.message.xid, None)
        writer = self.writer
        if writer is None:  # mitmproxy called `done` before this flow ended
            logger.warning("capture: %s ended after shutdown; not written", exchange.message.xid)
            return
        unseen = exchange.sent_to != writer.ensure_running()  # skipped, or another writer
        writer.send(
            WriteEnd(
                xid=exchange.message.xid,
                response=snap,
                error=error,
                resend=exchange.message if unseen else None,
                path=exchange.path if unseen else None,
            )
        )

    def _written_at(self, xid: int, path: str) -> None:
        exchange = self.by_xid.get(xid)
        if exchange is not None:
            exchange.path = path

    def _wanted(self, flow: http.HTTPFlow) -> providers.Match | None:
        """The provider and the host the client asked for, when this flow is to be captured.

        In the request hook, `request.host` is still what the client asked for
        (map-remote and reverse mode rewrite later or already point at the real
        API); TLS SNI is the fallback that survives any rewrite.
        """
        req = flow.request
        if req.method != "POST" or self.writer is None or ANALYZER_HEADER in req.headers:
            return None
        if flow.response is not None:  # answered by the proxy itself (proxyauth's 407): not sent
            return None
        hosts = (req.pretty_host, req.host, flow.client_conn.sni)
        return self.providers.match(hosts=hosts, path=req.path)

    @staticmethod
    def _asked_url(flow: http.HTTPFlow, host: str) -> str:
        req = flow.request
        if host == req.pretty_host.lower():
            return req.pretty_url
        default_port = 443 if req.scheme == "https" else 80
        port = "" if req.port == default_port else f":{req.port}"
        return f"{req.scheme}://{host}{port}{req.path}"

    @staticmethod
    def _response_snapshot(
        flow: http.HTTPFlow, resp: http.Response, exchange: Exchange
    ) -> record.ResponseSnapshot:
        started = flow.request.timestamp_start
        ended = resp.timestamp_end or time.time()
        tee = exchange.tee
        return record.ResponseSnapshot(
            status=resp.status_code,
            headers=record.header_pairs(resp.headers.fields),
            raw=tee.body() if tee else (resp.raw_content or b""),
            streamed=tee is not None,
            ttfb_ms=(resp.timestamp_start - started) * 1000 if resp.timestamp_start else None,
            duration_ms=(ended - started) * 1000,
            truncated=tee.truncated if tee else False,
        )


addons = [Capture()]
