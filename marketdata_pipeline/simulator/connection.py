"""One client connection: read request frames, answer them one at a time, inject faults."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from datetime import datetime

from baostock.common import contants as cons

from marketdata_pipeline.baostock import frames
from marketdata_pipeline.baostock.errors import ProtocolError
from marketdata_pipeline.simulator.faults import FaultDice, Faults
from marketdata_pipeline.simulator.handlers import Answers, Refusal
from marketdata_pipeline.simulator.stats import ServerStats

POLL_S = 0.25  # how often an idle connection re-reads its idle limit and the stop flag
MAX_REQUEST = 1 << 20


class Connection:
    """Serves one socket until the client leaves, a fault closes it or the server stops."""

    def __init__(self, sock: socket.socket, answers: Answers, faults: Faults, dice: FaultDice,
                 stats: ServerStats, stopping: threading.Event):  # fmt: skip
        self.sock = sock
        self.answers = answers
        self.faults = faults
        self.dice = dice
        self.stats = stats
        self.stopping = stopping
        self.user: str | None = None
        self._last_active = time.monotonic()

    def serve(self) -> None:
        try:
            self._read_loop()
        except OSError:
            pass  # the peer reset us, or kill_connections()/stop() shut the socket down
        finally:
            if self.user is not None:
                self.stats.release_login()
            self.sock.close()

    def shutdown(self) -> None:
        """Wake the serving thread from any blocking call (called from other threads)."""
        with contextlib.suppress(OSError):  # already closed
            self.sock.shutdown(socket.SHUT_RDWR)

    def _read_loop(self) -> None:
        buffer = b""
        while not self.stopping.is_set():
            data = self._recv()
            if data is None:
                continue
            if not data:
                return
            buffer += data
            while b"\n" in buffer:
                line, _, buffer = buffer.partition(b"\n")
                if not self._handle(line + b"\n"):
                    return
            if len(buffer) > MAX_REQUEST:
                return

    def _recv(self) -> bytes | None:
        """Bytes, b"" when the connection is over, None on a poll timeout."""
        idle_limit = self.faults.idle_close_s
        idle_for = time.monotonic() - self._last_active
        if idle_limit is not None and idle_for >= idle_limit:
            self.stats.count("idle_closed")
            return b""
        wait = POLL_S if idle_limit is None else max(0.005, min(POLL_S, idle_limit - idle_for))
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return None
        self._last_active = time.monotonic()
        return data

    def _handle(self, raw: bytes) -> bool:
        """Answer one request; False when the connection must end."""
        try:
            request = frames.decode_request(raw)
            method = request.fields[0]
        except ProtocolError as exc:
            request, method = None, "<bad frame>"
            error = (cons.BSERR_MESSAGE_ERROR, str(exc))
        self.stats.request(method)
        fault = self.dice.pick(self.faults)
        delay = self.dice.delay_s(self.faults)
        if delay:
            time.sleep(delay)
        if fault == "hang":
            self.stats.count("hung")
            self._hold()
            return False
        if fault == "error":
            reply = self._error(self.faults.error_code, "injected fault")
        elif request is None:
            reply = self._error(*error)
        else:
            reply = self._reply(request)
        if fault == "corrupt":
            self.stats.count("corrupted")
            reply = corrupt(reply)
        if fault == "drop":
            self.stats.count("dropped")
            self.sock.sendall(reply[: max(1, len(reply) // 2)])
            return False
        self.sock.sendall(reply)
        self._last_active = time.monotonic()
        return True

    def _reply(self, request: frames.Frame) -> bytes:
        try:
            if request.msg_type == cons.MESSAGE_TYPE_LOGIN_REQUEST:
                return self._login(request.fields)
            if request.msg_type == cons.MESSAGE_TYPE_LOGOUT_REQUEST:
                return self._logout(request.fields)
            handler = self.answers.handlers.get(request.msg_type)
            if handler is None:
                raise Refusal(cons.BSERR_MESSAGE_CODE_ERROR, f"unknown message type {request.msg_type}")
            self._require_login(request.fields)
            response_type, answer = handler
            return frames.encode_response(response_type, answer(request.fields))
        except Refusal as refusal:
            return self._error(refusal.code, refusal.message)

    def _login(self, fields: list[str]) -> bytes:
        if len(fields) != 4:
            raise Refusal(cons.BSERR_PARAM_ERR, f"login takes 3 fields, got {len(fields) - 1}")
        _, user, password, _ = fields
        if not user:
            raise Refusal(cons.BSERR_USERNAME_EMPTY, "user id is empty")
        if not password:
            raise Refusal(cons.BSERR_PASSWORD_EMPTY, "password is empty")
        if self.faults.password is not None and password != self.faults.password:
            self.stats.count("login_rejected")
            raise Refusal(cons.BSERR_USERNAMEORPASSWORD_ERR, "user name or password is wrong")
        if self.user is None and not self.stats.try_login(self.faults.max_logins):
            self.stats.count("login_refused")
            raise Refusal(cons.BSERR_LOGIN_COUNT_LIMIT, "login count limit reached")
        self.user = user
        return frames.encode_response(
            cons.MESSAGE_TYPE_LOGIN_RESPONSE, ["0", "success", "login", user, _stamp()]
        )

    def _logout(self, fields: list[str]) -> bytes:
        self._require_login(fields)
        self.user = None
        self.stats.release_login()
        self.stats.count("logouts")
        return frames.encode_response(
            cons.MESSAGE_TYPE_LOGOUT_RESPONSE, ["0", "success", "logout", fields[1], _stamp()]
        )

    def _require_login(self, fields: list[str]) -> None:
        if self.user is None or len(fields) < 2 or fields[1] != self.user:
            raise Refusal(cons.BSERR_NO_LOGIN, "you don't login")

    def _error(self, code: str, message: str) -> bytes:
        self.stats.count("errors_sent")
        return frames.encode_response(cons.MESSAGE_TYPE_EXCEPTIONS, [code, message])

    def _hold(self) -> None:
        """Never answer: keep the connection until the client leaves or the server stops."""
        while not self.stopping.is_set():
            self.sock.settimeout(POLL_S)
            try:
                if not self.sock.recv(65536):
                    return
            except TimeoutError:
                continue


def corrupt(reply: bytes) -> bytes:
    """Flip bytes inside a compressed body (including its checksum), or change an uncompressed CRC."""
    _, msg_type, length = frames.parse_header(reply)
    data = bytearray(reply)
    if msg_type in frames.COMPRESSED_TYPES:
        start = frames.HEADER_LEN
        data[start + length // 2] ^= 0xFF
        for k in range(start + length - 4, start + length):
            data[k] ^= 0x5A
        return bytes(data)
    body_end = len(reply) - len(frames.END_MARK)
    crc_start = reply.rindex(frames.SEP.encode(), 0, body_end) + 1
    bad_crc = str((int(reply[crc_start:body_end]) + 1) % (1 << 32)).encode()
    return reply[:crc_start] + bad_crc + reply[body_end:]


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d%H%M%S%f")[:17]
