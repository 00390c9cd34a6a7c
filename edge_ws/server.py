"""The edge process: one ``websockets`` server for ``/ws`` and the plain HTTP routes.

Start-up: the server listens first (so ``/healthz`` answers), then creates the
instance's events subscription and starts pulling; only then ``/readyz``
answers 200 and ``/ws`` accepts handshakes (503 before).

Handshake (``process_request``): ``/ws`` (and ``/ws/``) checks the ``Origin``
(403 for another site's page, :mod:`edge_ws.origins`) and authenticates the
request before the upgrade (401 with the reason, never the token; 429 over
the per-user socket limit or, for a new demo user, over the per-address demo
limit); any other path is plain HTTP (:mod:`edge_ws.http`).

Shutdown (:func:`serve_until_stopped` returns when ``stop`` is set, on SIGTERM
or SIGINT in ``__main__``): mark not ready, stop accepting, close every socket
with 1001 "server shutting down, reconnect and resume", stop pulling and delete
the subscription — the sockets and the subscription concurrently, all bounded
by ``EDGE_SHUTDOWN_SECONDS`` (Cloud Run sends SIGKILL 10 s after SIGTERM).
A SIGTERM during start-up does not wait for the subscription to be created.
Cancelling :func:`serve_until_stopped` runs the same shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from apex_core.errors import ApexError, AuthenticationError
from apex_core.identity import TokenVerifier
from apex_core.logs import fields
from apex_core.protocol import CLOSE_GOING_AWAY
from edge_ws import http
from edge_ws.bus import EventSubscription, RequestPublisher
from edge_ws.connection import EdgeServices, Session, UserBudgets
from edge_ws.handshake import Handshake, authenticate, client_address, select_subprotocol
from edge_ws.origins import OriginRefused, check_origin
from edge_ws.ratelimit import Budgets
from edge_ws.routing import Frame, Registry
from edge_ws.settings import EdgeSettings
from edge_ws.store import EdgeStore

log = logging.getLogger(__name__)

WS_PATHS = frozenset({"/ws", "/ws/"})
SHUTDOWN_REASON = "server shutting down, reconnect and resume"
# A socket's closing handshake may take this long before it is dropped.
CLOSE_TIMEOUT_SECONDS = 2.0


class EdgeConnection(ServerConnection):
    """A server connection that carries its accepted handshake to the handler."""

    accepted: Handshake | None = None


class _Gate:
    """Who may open a socket, and what plain HTTP requests get (``process_request``)."""

    def __init__(self, settings: EdgeSettings, registry: Registry[Session]) -> None:
        self.settings = settings
        self.registry = registry
        self.verifier = TokenVerifier(settings.auth)
        self.demo_handshakes = Budgets(per_minute=settings.limits.demo_handshakes_per_minute)
        self.ready = False

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        path = unquote(urlsplit(request.path).path)
        settings = self.settings
        if path not in WS_PATHS:
            return http.route(
                path,
                ready=self.ready,
                static_dir=settings.static_dir,
                ingest_url=settings.ingest_url,
                host=request.headers.get("Host"),
                secure=http.forwarded_https(request.headers),
            )
        if not self.ready:
            return http.text(HTTPStatus.SERVICE_UNAVAILABLE, "not ready; retry shortly")
        try:
            check_origin(
                request.headers.get_all("Origin"),
                host=request.headers.get("Host"),
                allowed=settings.allowed_origins,
            )
        except OriginRefused as exc:
            log.info("handshake refused: %s", exc.message)
            return http.text(HTTPStatus.FORBIDDEN, exc.message)
        try:
            if settings.auth.jwks_url:  # the verifier may fetch keys: keep the loop free
                handshake = await asyncio.to_thread(authenticate, request.headers, self.verifier)
            else:
                handshake = authenticate(request.headers, self.verifier)
        except AuthenticationError as exc:
            log.info("handshake refused: %s", exc.message)
            return http.text(
                HTTPStatus.UNAUTHORIZED,
                exc.message,
                extra={"WWW-Authenticate": 'Bearer realm="apex"'},
            )
        identity = handshake.identity
        if self.registry.count(identity.user_id) >= settings.limits.max_sockets_per_user:
            return http.text(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"too many connections for this user (at most "
                f"{settings.limits.max_sockets_per_user}); close one and retry",
            )
        if identity.demo and identity.session_expires_at is None:  # a new demo user
            address = client_address(
                _peer(connection), request.headers, hops=settings.forwarded_for_hops
            )
            wait = self.demo_handshakes.take(address, 1, time.monotonic())
            if wait is not None:
                log.warning(
                    "too many new demo users from one address", extra=fields(address=address)
                )
                return http.text(
                    HTTPStatus.TOO_MANY_REQUESTS,
                    f"too many new demo sessions from this address (at most "
                    f"{settings.limits.demo_handshakes_per_minute} a minute); reconnect with "
                    f"your session_token or retry in {wait:.0f} s",
                    extra={"Retry-After": str(max(1, round(wait)))},
                )
        if identity.demo:
            log.warning(
                "demo identity in use (no verified user)",
                extra=fields(connection_id=handshake.connection_id, user_id=identity.user_id),
            )
        if isinstance(connection, EdgeConnection):
            connection.accepted = handshake
        return None


def _peer(connection: ServerConnection) -> str | None:
    address = connection.remote_address
    return str(address[0]) if isinstance(address, tuple) and address else None


def _choose_subprotocol(connection: ServerConnection, offered: Any) -> Subprotocol | None:
    return select_subprotocol(list(offered))


async def serve_until_stopped(settings: EdgeSettings, stop: asyncio.Event) -> None:
    """Run the edge until ``stop`` is set, then shut down as the module docstring says.

    Raises an :class:`ApexError` if the instance cannot become ready.
    """
    registry: Registry[Session] = Registry()
    gate = _Gate(settings, registry)
    store = EdgeStore.connect(settings.project, timeout=settings.timeouts.store_timeout_seconds)
    publisher = RequestPublisher(
        settings.project, timeout=settings.timeouts.publish_timeout_seconds
    )
    services = EdgeServices(
        settings=settings,
        store=store,
        publisher=publisher,
        registry=registry,
        budgets=UserBudgets.from_settings(settings),
    )

    def dispatch(user_id: str, frame: Frame) -> None:
        for session in registry.sinks(user_id):
            session.offer_live(frame)

    subscription = EventSubscription(
        settings.project,
        settings.events_subscription,
        on_event=dispatch,
        heartbeat_seconds=settings.timeouts.heartbeat_seconds,
        create_retry_seconds=settings.timeouts.subscribe_retry_seconds,
    )

    async def handler(connection: ServerConnection) -> None:
        handshake = connection.accepted if isinstance(connection, EdgeConnection) else None
        if handshake is None:  # process_request accepted no handshake: cannot happen
            await connection.close(1011, "no identity")
            return
        await Session(connection, handshake, services).run()

    server = await serve(
        handler,
        settings.host,
        settings.port,
        process_request=gate.process_request,
        select_subprotocol=_choose_subprotocol,
        create_connection=EdgeConnection,
        max_size=settings.limits.max_frame_bytes,
        ping_interval=settings.timeouts.ping_interval_seconds,
        ping_timeout=settings.timeouts.ping_timeout_seconds,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
        server_header=None,
    )
    log.info(
        "listening",
        extra=fields(host=settings.host, port=settings.port, instance_id=settings.instance_id),
    )
    keep_alive: asyncio.Task[None] | None = None
    opening = asyncio.create_task(subscription.open(), name="open-subscription")
    stopping = asyncio.create_task(stop.wait(), name="stop")
    try:
        # A SIGTERM during start-up must not wait for the subscription to appear.
        await asyncio.wait({opening, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if opening.done():
            opening.result()  # raises if the subscription could not be created
            keep_alive = asyncio.create_task(subscription.keep_alive(), name="subscription")
            gate.ready = True
            log.info("ready", extra=fields(subscription=subscription.path))
            await stopping
    finally:
        opening.cancel()
        stopping.cancel()
        gate.ready = False
        log.info("shutting down", extra=fields(sockets=len(registry.all())))
        if keep_alive is not None:
            keep_alive.cancel()
        await _shut_down(settings, server, subscription, store, publisher)


async def _shut_down(
    settings: EdgeSettings,
    server: Server,
    subscription: EventSubscription,
    store: EdgeStore,
    publisher: RequestPublisher,
) -> None:
    async def close_sockets() -> None:
        server.close(close_connections=True, code=CLOSE_GOING_AWAY, reason=SHUTDOWN_REASON)
        await server.wait_closed()

    async def close_clients() -> None:
        await asyncio.gather(store.close(), publisher.close())

    try:
        async with asyncio.timeout(settings.timeouts.shutdown_seconds):
            outcomes = await asyncio.gather(
                close_sockets(), subscription.close(), return_exceptions=True
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    log.error("shutdown step failed: %r", outcome)
            with contextlib.suppress(ApexError):
                await close_clients()
    except TimeoutError:
        log.error("shutdown did not finish in %.1f s", settings.timeouts.shutdown_seconds)
    log.info("stopped")
