"""The phone remote's web server: the page and the API of the remote contract (Starlette on
uvicorn, on a thread of its own). It reads the table's snapshots and posts events through the
RemoteLink; it never touches the motor except through the stop button's own path."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import threading
import time
from dataclasses import asdict
from pathlib import Path

from controller.core import remote as rules
from controller.errors import HardwareError, InputError, ProfileError
from controller.setup.config import DEFAULT_CONFIG_PATH
from controller.setup.preflight import check_summary, prepare_profile
from controller.setup.validation import validate_toml_text
from profiles import Profile, preset_names, resolve_profile
from controller.records.history import History
from controller.records.remote_tokens import TokenError, TokenStore, token_command, tokens_path
from controller.shell import realtime
from controller.shell.remote_link import PUMP_EVERY, RemoteLink

log = logging.getLogger("inversion_table")

MAX_BODY = 64 * 1024  # bytes: a request body past this gets 413
PAGE_DIR = Path(__file__).with_name("remote_page")
PAGE_FILES = {"/": ("index.html", "text/html; charset=utf-8"), "/app.js": ("app.js", "text/javascript; charset=utf-8"),
              "/app.css": ("app.css", "text/css; charset=utf-8")}
REMOTE_PRIORITY = 40  # SCHED_FIFO, below the loop's (controller/shell/realtime.py)
PUSH_EVERY = 0.1  # s: status pushes at 10 Hz (the contract asks for 5 Hz at least)
ANSWER_WITHIN = 3.0  # s: a press the table has not taken by then gets 503 (the loop is not running)
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                                      "frame-ancestors 'none'"}


class Problem(Exception):
    """A request the API refuses: the status and one line, as JSON."""

    def __init__(self, status: int, message: str, **extra) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def build_app(server: RemoteServer):
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocketDisconnect

    link = server.link

    def reply(body: dict, status: int = 200):
        return JSONResponse(body, status_code=status, headers=HEADERS)

    async def problem(request, exc: Problem):
        return reply({"error": exc.message, **exc.extra}, exc.status)

    async def http_error(request, exc: HTTPException):
        return reply({"error": str(exc.detail)}, exc.status_code)

    async def any_error(request, exc: Exception):  # a bug: said as JSON, logged in one line
        log.error("remote: internal error on %s %s: %s", request.method, request.url.path, exc)
        return reply({"error": "internal error (see the service's log)"}, 500)

    async def body_of(request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise Problem(400, "Content-Length is not a number")
            if int(length) > MAX_BODY:
                raise Problem(413, f"the body is over {MAX_BODY // 1024} KiB")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise Problem(413, f"the body is over {MAX_BODY // 1024} KiB")
            chunks.append(chunk)
        return b"".join(chunks)

    async def json_of(request, key: str) -> str:
        body = await body_of(request)
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Problem(400, f'the body must be JSON such as {{"{key}": "..."}}') from None
        if not isinstance(data, dict) or set(data) != {key} or not isinstance(data[key], str):
            raise Problem(400, f'the body must be JSON with one key, "{key}", a text')
        return data[key]

    def authorize(request) -> str:
        address = request.client.host if request.client else "?"
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else None
        return server.authorize(address, token)

    async def until_taken(ticket, within: float):
        deadline = time.monotonic() + within
        while not ticket.done:
            if time.monotonic() > deadline:
                raise Problem(503, "the table did not take the press in time (is its control loop running?)",
                              accepted=False)
            await asyncio.sleep(0.01)

    async def page(request):
        name, kind = PAGE_FILES[request.url.path]
        return Response((PAGE_DIR / name).read_bytes(), media_type=kind, headers=HEADERS)

    async def status(request):
        authorize(request)
        return reply(link.status())

    async def stop(request):
        await body_of(request)  # read (and bounded) but not needed: a stop needs nothing
        link.stop()
        deadline = time.monotonic() + ANSWER_WITHIN
        while not link.table.state.machine.stop_latched:
            if time.monotonic() > deadline:
                raise Problem(503, "the motor is halted, but the control loop has not latched the stop: "
                                   "use the table's own stop", halted=True, latched=False)
            await asyncio.sleep(0.005)
        return reply({"stopped": True, "latched": True})

    async def press(request):
        authorize(request)
        button = await json_of(request, "button")
        verdict = rules.press_verdict(button, allow_motion=link.allow_motion, table=link.table.state, t=link.now())
        if verdict is not None:
            raise Problem(verdict.status, verdict.reason, accepted=False)
        ticket = link.press(button)
        await until_taken(ticket, ANSWER_WITHIN + (link.start_warning if button == "start" else 0.0))
        if ticket.cancelled:
            raise Problem(409, ticket.cancelled, accepted=False)
        accepted, reason = rules.outcome(ticket.records)
        if not accepted:
            raise Problem(409, reason, accepted=False)
        return reply({"accepted": True, **({"notice": reason} if reason else {})})

    async def preset(request):
        authorize(request)
        name = await json_of(request, "name")
        s = link.table.state
        steps = rules.preset_steps([p.name for p in s.presets], s.selected, name)
        if isinstance(steps, rules.Verdict):
            raise Problem(steps.status, steps.reason, accepted=False)
        if steps == 0:
            return reply({"accepted": True, "preset": name})
        ticket = link.select(steps)
        await until_taken(ticket, ANSWER_WITHIN)
        accepted, reason = rules.outcome(ticket.records)
        if not accepted or link.table.state.preset is None or link.table.state.preset.name != name:
            raise Problem(409, reason or "the table did not select it", accepted=False)
        return reply({"accepted": True, "preset": name})

    async def history(request):
        authorize(request)
        return reply(await asyncio.to_thread(server.history))

    async def profiles(request):
        authorize(request)
        return reply(server.profiles())

    async def check(request):
        authorize(request)
        body = await body_of(request)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Problem(400, "the profile must be UTF-8 text (TOML)") from None
        return reply(await asyncio.to_thread(server.check_profile, text))

    async def ws(websocket):
        await websocket.accept()
        address = websocket.client.host if websocket.client else "?"
        client = f"ws-{next(server.clients)}"
        try:
            token = websocket.query_params.get("token")
            if token is None:
                first = await asyncio.wait_for(websocket.receive_text(), 5.0)
                try:
                    token = json.loads(first).get("token")
                except (ValueError, AttributeError):
                    token = None
            try:
                server.authorize(address, token if isinstance(token, str) else None)
            except Problem as p:
                await websocket.send_json({"type": "error", "status": p.status, "error": p.message})
                await websocket.close(code=4000 + p.status)
                return
            sender = asyncio.create_task(_push(websocket, client))
            try:
                while True:
                    text = await websocket.receive_text()
                    await _on_message(websocket, client, text)
            finally:
                link.release_client(client)
                sender.cancel()
        except (WebSocketDisconnect, asyncio.TimeoutError, RuntimeError):
            link.release_client(client)

    async def _on_message(websocket, client: str, text: str) -> None:
        try:
            data = json.loads(text) if len(text) <= MAX_BODY else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or "hold" not in data or not (data["hold"] is None or isinstance(data["hold"], str)):
            await websocket.send_json({"type": "error", "error": 'messages are {"hold": "up" | "down" | "return" | null}'})
            return
        refused = link.hold(client, data["hold"])
        if refused is not None:
            await websocket.send_json({"type": "hold", "hold": None, "refused": refused})

    async def _push(websocket, client: str) -> None:
        seq, shown = link.last_seq(), None
        while True:
            for seq, record in link.events_after(seq):
                await websocket.send_json({"type": "event", **record})
            hold = link.hold_of(client)
            if hold != shown:
                shown = hold
                await websocket.send_json({"type": "hold", "hold": hold[0] if hold[1] is None else None,
                                           "ended": hold[1]})
            await websocket.send_json({"type": "status", **link.status()})
            await asyncio.sleep(PUSH_EVERY)

    routes = [Route(path, page) for path in PAGE_FILES] + [
        Route("/api/status", status), Route("/api/stop", stop, methods=["POST"]),
        Route("/api/press", press, methods=["POST"]), Route("/api/preset", preset, methods=["POST"]),
        Route("/api/history", history), Route("/api/profiles", profiles),
        Route("/api/profiles/check", check, methods=["POST"]), WebSocketRoute("/api/ws", ws),
    ]
    return Starlette(routes=routes, exception_handlers={Problem: problem, HTTPException: http_error,
                                                        Exception: any_error})


class RemoteServer:
    """Serves the page and the API on ``host:port`` from its own thread until ``close()``."""

    def __init__(self, link: RemoteLink, tokens: TokenStore, *, host: str, port: int, config,
                 config_source: str, history_file: str | None) -> None:
        self.link, self.tokens = link, tokens
        self.host, self.port = host, port
        self.config, self.config_source, self.history_file = config, config_source, history_file
        self.clients = itertools.count(1)
        self._failures: dict = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server = None

    # -- shared by the handlers --------------------------------------------------------------------
    def authorize(self, address: str, token: str | None) -> str:
        now = time.monotonic()
        with self._lock:
            if not rules.failures_allowed(self._failures, address, now):
                raise Problem(429, "too many wrong tokens from this address: wait a minute")
        try:
            name = self.tokens.check(token)
        except TokenError as e:
            raise Problem(503, str(e)) from None
        if name is None:
            if token:  # a wrong token is a guess; none at all (a page not yet paired) is not
                with self._lock:
                    self._failures = rules.add_failure(self._failures, address, now)
            raise Problem(401, "a valid token is needed (Authorization: Bearer TOKEN): pair with "
                               "`inversion-table remote pair`; POST /api/stop needs none")
        return name

    def history(self) -> dict:
        if not self.history_file or not Path(self.history_file).exists():
            return {"sessions": [], "note": "no history is kept on this table"}

        with History(self.history_file) as h:
            sessions = h.sessions()[-100:]
        return {"sessions": [asdict(s) for s in sessions]}

    def profiles(self) -> dict:
        shipped = [{"name": n, "description": resolve_profile(n)[0].description} for n in preset_names()]
        s = self.link.table.state
        return {"on_table": [p.name for p in s.presets], "selected": s.preset.name if s.preset else None,
                "shipped": shipped}

    def check_profile(self, text: str) -> dict:
        label = "the profile"
        try:
            profile = validate_toml_text(text, Profile, error_cls=ProfileError, source=label)
            prepared = prepare_profile(label, self.config, config_source=self.config_source,
                                       resolved=(profile, label))
        except InputError as e:
            return {"ok": False, "message": str(e), "problems": str(e).splitlines()}
        return {"ok": True, "message": check_summary(label, prepared, self.config), "problems": []}

    # -- the thread --------------------------------------------------------------------------------
    def start(self) -> None:
        import uvicorn


        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as e:
            sock.close()
            raise HardwareError(f"the remote cannot listen on {self.host}:{self.port}: {e.strerror}") from None
        sock.listen(64)
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(build_app(self), log_level="warning", access_log=False, lifespan="off",
                                ws="websockets-sansio", ws_max_size=MAX_BODY, timeout_graceful_shutdown=1,
                                server_header=False)
        config.load()  # its imports (the protocols) here, not on the server's thread
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(sock),), name="remote", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10.0
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise HardwareError(f"the remote did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        log.info("remote: serving the page on http://%s:%d/", self.host, self.port)

    async def _serve(self, sock) -> None:
        # Real-time too, below the loop and the dead-man: the GIL is the loop's to wait for, and a
        # server thread that the kernel takes off the CPU (for any other process) while it holds
        # the GIL would keep the loop waiting as long; the API tests tripped the dead-man so on a
        # busy machine. (Under systemd every thread starts at the loop's priority: this lowers it.)
        realtime.request(REMOTE_PRIORITY, "remote")
        async def pump() -> None:
            while True:
                self.link.pump()
                await asyncio.sleep(PUMP_EVERY)

        pumping = asyncio.create_task(pump())
        try:
            await self._server.serve(sockets=[sock])
        finally:
            pumping.cancel()

    def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5.0)
        self._server = self._thread = None


def serve(service, *, listen: tuple[str, int], config, config_source: str, history_file: str | None) -> RemoteServer:
    """Start the remote for a service: [remote]'s rules, the tokens beside the history."""
    r = config.remote
    link = RemoteLink(service.table, allow_motion=r.allow_motion, start_warning=r.start_warning,
                      hold_lapse=r.hold_lapse)
    tokens = TokenStore(tokens_path(config.history.file))
    server = RemoteServer(link, tokens, host=listen[0], port=listen[1], config=config, config_source=config_source,
                          history_file=history_file)
    server.start()
    if not tokens.entries():
        # The command to type, with this config when it is not the one `remote` reads by default:
        # a token made elsewhere lands next to another history file, and this table never sees it.
        given = Path(config_source).is_file() and Path(config_source).resolve() != Path(DEFAULT_CONFIG_PATH).resolve()
        option = config_source if given else None
        log.warning("remote: no tokens in %s yet: only the page's STOP works; make one with `%s` (or `%s`)",
                    tokens.path, token_command("token", config=option),
                    token_command("pair", config=option).removeprefix("inversion-table "))
    return server
