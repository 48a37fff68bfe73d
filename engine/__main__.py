"""`python -m kimi_engine`: start an SGLang server from a named profile (or print its command line).

    python -m kimi_engine [--profile cpu-tiny] [--port N] [--host 127.0.0.1] [--model-path P] [--print-command]
    python -m kimi_engine --profile team [--workers 2] [--worker-profile cpu-tiny] [--policy cache_aware]

Runs in the foreground until SIGINT/SIGTERM, then stops the whole engine process group (a team: the router
and every worker's).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from collections.abc import Sequence

from kimi_engine.launch import (
    PROFILES,
    ROUTER_POLICIES,
    TEAM,
    EngineConfig,
    EngineError,
    Team,
    build_command,
    engine_for,
    get_profile,
)

_DEFAULTS = EngineConfig()


def parse_args(argv: Sequence[str] | None = None) -> EngineConfig:
    profiles = "; ".join(f"{p.name}: {p.description}" for p in PROFILES.values())
    p = argparse.ArgumentParser(
        prog="python -m kimi_engine",
        description=__doc__.splitlines()[0],
        epilog=f"profiles - {profiles}. Arguments after `--` go to SGLang verbatim.",
    )
    p.add_argument("--profile", default=_DEFAULTS.profile, choices=sorted(PROFILES))
    p.add_argument("--host", default=_DEFAULTS.host)
    p.add_argument("--port", type=int, default=_DEFAULTS.port)
    p.add_argument("--model-path", default=_DEFAULTS.model_path, help="default: the profile's model")
    p.add_argument("--dist-init-addr", default=_DEFAULTS.dist_init_addr, help="HOST:PORT of node 0")
    p.add_argument("--node-rank", type=int, default=_DEFAULTS.node_rank)
    p.add_argument("--python", default=_DEFAULTS.python, help="interpreter with sglang installed")
    p.add_argument("--log-file", default=_DEFAULTS.log_file, help="default: a temporary file")
    p.add_argument("--startup-timeout", type=float, default=_DEFAULTS.startup_timeout)
    p.add_argument("--print-command", action="store_true", help="print the command line and exit")
    p.add_argument("--workers", type=int, default=_DEFAULTS.workers, help="team: how many workers")
    p.add_argument("--worker-profile", default=_DEFAULTS.worker_profile, choices=sorted(set(PROFILES) - {TEAM}))
    p.add_argument("--policy", default=_DEFAULTS.policy, choices=ROUTER_POLICIES, help="team: the router's policy")
    args, extra = p.parse_known_args(argv)
    if extra and extra[0] == "--":
        extra = extra[1:]
    elif extra:
        p.error(f"unrecognized arguments: {' '.join(extra)} (put SGLang flags after `--`)")
    return EngineConfig(**vars(args), extra_args=tuple(extra))


def _shell_line(cfg: EngineConfig) -> str:
    """The command line that starts `cfg`'s server, with its environment, as a shell would take it."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(get_profile(cfg.profile).env.items()))
    path = ":".join(get_profile(cfg.profile).pythonpath)
    prefix = (f"PYTHONPATH={shlex.quote(path)} " if path else "") + (env + " " if env else "")
    return prefix + shlex.join(build_command(cfg))


def main(argv: Sequence[str] | None = None) -> int:
    cfg = parse_args(argv)
    try:
        if cfg.print_command:
            if cfg.profile == TEAM:
                team = Team(cfg)
                for worker in team.workers:
                    print(_shell_line(worker.config))
                print(shlex.join(team.command))
            else:
                print(_shell_line(cfg))
            return 0
        engine = engine_for(cfg)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        engine.start()
        print(f"engine: starting {cfg.profile} (log: {engine.log_path})", file=sys.stderr, flush=True)
        try:
            waited = engine.wait_ready()
            print(f"engine: ready at {engine.base_url} after {waited:.1f}s", file=sys.stderr, flush=True)
            if isinstance(engine, Team):
                urls = " ".join(engine.worker_urls)
                print(f"engine: workers at {urls} (kimi-lsp's engine.workers)", file=sys.stderr, flush=True)
            while not stop.wait(1.0):
                if engine.returncode is not None:
                    print(f"engine: exited with {engine.returncode}; see {engine.log_path}", file=sys.stderr)
                    return 1
        finally:
            engine.stop()
    except EngineError as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
