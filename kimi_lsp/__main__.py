"""Command line: `kimi-lsp [--stdio | --tcp HOST:PORT] [--engine URL|embedded|none|scripted:PATH] ...`.

stdout carries the protocol (stdio mode): every log line goes to stderr or the --log-file, never stdout.
"""

from __future__ import annotations

import argparse
import faulthandler
import io
import logging
import os
import signal
import sys
from typing import BinaryIO, TextIO

from . import __version__
from .processes import kill_descendants
from .redact import RedactingFilter

# Keep this module's imports light: index worker processes import the main module again when they start.


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kimi-lsp", description="An AI language server for self-hosted MoE code models."
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    mode.add_argument("--tcp", type=_host_port, metavar="HOST:PORT", help="listen for one client on a TCP port")
    parser.add_argument(
        "--engine",
        metavar="URL|embedded|none|scripted:PATH",
        help="model engine; default: the engine.url setting, else the embedded CPU engine",
    )
    parser.add_argument("--log-file", metavar="PATH", help="write logs here instead of stderr")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")
    parser.add_argument("--version", action="version", version=f"kimi-lsp {__version__}")
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective settings (config file, environment, --engine; the API key masked) and exit",
    )
    args = parser.parse_args(argv)
    if args.engine is not None:
        from .model.host import parse_engine_choice

        try:
            args.engine = parse_engine_choice(args.engine)
        except ValueError as error:
            parser.error(str(error))
    return args


class PrivateStream(io.TextIOWrapper):
    """A text stream that does not tell its file descriptor. multiprocessing's resource tracker hands
    sys.stderr's descriptor to the process it starts; that process would then hold the client's pipe open
    after we are gone, and the client would wait for it forever."""

    def fileno(self) -> int:
        raise io.UnsupportedOperation("a private stream")


def take_stdio() -> tuple[BinaryIO, BinaryIO, TextIO]:
    """Move the protocol and the log off fds 0, 1 and 2, onto private copies no child process inherits.

    fds 0, 1 and 2 then point at /dev/null: a stray print cannot corrupt the protocol, and no child (index
    workers, the engine) can hold the client's pipes open after we exit - a client waits for those to close.
    Returns (protocol in, protocol out, log stream)."""
    protocol_in = os.fdopen(os.dup(0), "rb")
    protocol_out = os.fdopen(os.dup(1), "wb")
    log_stream = PrivateStream(os.fdopen(os.dup(2), "wb"), line_buffering=True, errors="backslashreplace")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdout = sys.stderr = log_stream  # Python-level prints and tracebacks still reach the log
    return protocol_in, protocol_out, log_stream


def check_config(args: argparse.Namespace) -> None:
    """Read the config file and the environment (config_file.py) before serving: an invalid value exits with
    status 2 and one line naming it. --print-config prints the effective settings as JSON and exits 0."""
    import json

    from .config_file import ConfigError, effective, startup

    try:
        loaded = startup()
    except ConfigError as error:
        print(f"kimi-lsp: {error}", file=sys.stderr)
        sys.exit(2)
    if args.print_config:
        flag = None
        if args.engine is not None:
            flag = f"{args.engine.kind}:{args.engine.value}" if args.engine.value else args.engine.kind
        print(json.dumps(effective(loaded, flag), indent=2))
        sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check_config(args)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    protocol_in, protocol_out, log_stream = take_stdio() if not args.tcp else (None, None, sys.stderr)
    faulthandler.enable(log_stream.buffer.fileno())  # a crash in native code leaves its stacks in the log
    handler: logging.Handler = (
        logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(log_stream)
    )
    handler.addFilter(RedactingFilter())  # the engine's API key never reaches the log
    logging.basicConfig(level=level, handlers=[handler], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose == 0:  # pygls warns about routine client behaviour (cancelling finished requests...)
        logging.getLogger("pygls").setLevel(logging.ERROR)
    from .server import build_server  # after logging is set up

    server = build_server(args.engine)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # run the cleanup below
    code: int | str | None = 0
    try:
        if args.tcp:
            server.start_tcp(*args.tcp)
        else:
            server.start_io(protocol_in, protocol_out)
    except SystemExit as exiting:  # pygls exits 0 after shutdown + exit, 1 on exit without shutdown
        code = exiting.code
    finally:
        server.engines.kill()  # the client may exit without shutdown: never leave the engine behind
        kill_descendants()  # index workers
        logging.shutdown()
        # `exit` means exit now: do not wait in the interpreter's atexit joins for worker threads or the
        # index's process pool (state was saved at shutdown)
        os._exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    main()
