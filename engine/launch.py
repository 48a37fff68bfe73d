"""Build and run SGLang server command lines from named profiles.

Owns: `EngineConfig` (one frozen dataclass, fields 1:1 with `python -m kimi_engine` flags), the profiles
(`cpu-tiny`, `cpu-tiny-ep2`, `gpu-small`, `kimi-k2`, `kimi-k2-dp-ep`, and `team`: N workers of another
profile behind SGLang's router), `EngineProcess` (start in its own process group, wait for /health, stop the
whole group, clean its /dev/shm files), `Team` (the workers and the router as one unit, with the same
interface) and `free_port`. Building a command is pure; only EngineProcess and Team touch processes. Must not
import sglang or torch (the server does, in its own process), so kimi_lsp and tests can import this module cheaply.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

ENGINE_DIR = Path(__file__).resolve().parent
TINY_MODEL_DIR = ENGINE_DIR / "models" / "kimi-tiny"
CPU_KERNEL_DIR = ENGINE_DIR / "cpu"
MOE_PACKAGE_DIR = ENGINE_DIR / "moe"  # holds kimi_moe, the SGLang model package with the expert-parallel MoE
EP_ARCHITECTURE = "KimiMoeEPForCausalLM"
SHM_DIR = Path("/dev/shm")


def default_python() -> str:
    """The interpreter with SGLang: the engine's own environment beside a source checkout (`make engine`:
    .venv-engine), else this one. The language server looks further (kimi_lsp/model/embedded.py)."""
    venv = ENGINE_DIR.parent / ".venv-engine" / "bin" / "python"
    return str(venv) if ENGINE_DIR.name == "engine" and venv.exists() else sys.executable


@dataclass(slots=True, frozen=True)
class EngineConfig:
    """Every field is one `python -m kimi_engine` flag (`model_path` <-> `--model-path`)."""

    profile: str = "cpu-tiny"
    host: str = "127.0.0.1"
    port: int = 30000
    model_path: str | None = None  # None: the profile's default model
    dist_init_addr: str | None = None  # HOST:PORT of node 0 (multi-node profiles)
    node_rank: int = 0
    python: str = field(default_factory=default_python)  # interpreter that has sglang installed
    log_file: str | None = None  # None: a temporary file
    startup_timeout: float = 300.0  # seconds to wait for /health
    print_command: bool = False
    extra_args: tuple[str, ...] = ()  # appended verbatim (after `--` on the command line); team: to each worker
    workers: int = 2  # team: how many workers
    worker_profile: str = "cpu-tiny"  # team: the profile each worker runs
    policy: str = "cache_aware"  # team: the router's policy (ROUTER_POLICIES)


@dataclass(slots=True, frozen=True)
class Profile:
    name: str
    description: str
    default_model: str | None
    flags: Callable[[EngineConfig], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    pythonpath: tuple[str, ...] = ()


class EngineError(RuntimeError):
    """The engine could not be configured, started or reached."""


def _common_flags(cfg: EngineConfig) -> list[str]:
    """Always on: radix cache (SGLang's default; never --disable-radix-cache), prefix-aware scheduling,
    cache report, metrics, and an explicit host (127.0.0.1 unless told otherwise)."""
    return [
        "--schedule-policy",
        "lpm",
        "--enable-cache-report",
        "--enable-metrics",
        "--constrained-json-disable-any-whitespace",
        "--host",
        cfg.host,
        "--port",
        str(cfg.port),
    ]


def _cpu_tiny(cfg: EngineConfig) -> list[str]:
    return [
        "--device",
        "cpu",
        "--attention-backend",
        "torch_native",
        "--cuda-graph-backend-decode",
        "disabled",
        "--cuda-graph-backend-prefill",
        "disabled",
        "--max-total-tokens",
        "8192",
        "--sleep-on-idle",
        "--skip-server-warmup",
        "--served-model-name",
        "kimi-tiny",
    ]


def _cpu_tiny_ep2(cfg: EngineConfig) -> list[str]:
    """cpu-tiny on 2 ranks (gloo): attention tensor parallel, experts split over the ranks by kimi_moe."""
    return [
        *_cpu_tiny(cfg),
        "--tp-size",
        "2",
        "--ep-size",
        "2",
        "--json-model-override-args",
        json.dumps({"architectures": [EP_ARCHITECTURE]}),
    ]


def cpu_binds(ranks: int, cpus: list[int] | None = None) -> str:
    """SGLANG_CPU_OMP_THREADS_BIND for `ranks` CPU ranks: the CPUs this process may use, split into `ranks`
    contiguous shares ("0|1" on 2 CPUs, "0,1,2,3|4,5,6,7" on 8); with fewer CPUs than ranks, ranks share them."""
    usable = sorted(os.sched_getaffinity(0)) if cpus is None and hasattr(os, "sched_getaffinity") else cpus
    usable = usable or list(range(os.cpu_count() or 1))
    shares = [usable[r * len(usable) // ranks : (r + 1) * len(usable) // ranks] for r in range(ranks)]
    return "|".join(
        ",".join(map(str, share or usable[r % len(usable) : r % len(usable) + 1])) for r, share in enumerate(shares)
    )


def _gpu_small(cfg: EngineConfig) -> list[str]:
    return ["--tp-size", "1", "--mem-fraction-static", "0.85"]


def _require_dist(cfg: EngineConfig) -> str:
    if not cfg.dist_init_addr:
        raise EngineError(f"profile {cfg.profile} needs --dist-init-addr HOST:PORT (node 0's address)")
    return cfg.dist_init_addr


def _kimi_k2(cfg: EngineConfig) -> list[str]:
    return [
        "--tp-size",
        "16",
        "--dist-init-addr",
        _require_dist(cfg),
        "--nnodes",
        "2",
        "--node-rank",
        str(cfg.node_rank),
        "--trust-remote-code",
        "--tool-call-parser",
        "kimi_k2",
    ]


def _kimi_k2_dp_ep(cfg: EngineConfig) -> list[str]:
    return [
        *_kimi_k2(cfg),
        "--dp-size",
        "16",
        "--enable-dp-attention",
        "--ep-size",
        "16",
        "--moe-a2a-backend",
        "deepep",
        "--deepep-mode",
        "auto",
        "--enable-eplb",
        "--ep-num-redundant-experts",
        "32",
    ]


def _team(cfg: EngineConfig) -> list[str]:
    raise EngineError("profile team is a router and its workers (Team), not one server")


_OFFLINE = {"HF_HUB_OFFLINE": "1"}
PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "cpu-tiny",
            "the tiny MoE model on the CPU (tests, demo)",
            str(TINY_MODEL_DIR),
            _cpu_tiny,
            env={**_OFFLINE, "SGLANG_USE_CPU_ENGINE": "1", "SGLANG_NATIVE_MOVE_KV_CACHE": "1"},
            pythonpath=(str(CPU_KERNEL_DIR),),
        ),
        Profile(
            "cpu-tiny-ep2",
            "the tiny MoE model on 2 CPU ranks, expert parallel (our all-to-all MoE layer, engine/moe)",
            str(TINY_MODEL_DIR),
            _cpu_tiny_ep2,
            env={
                **_OFFLINE,
                "SGLANG_USE_CPU_ENGINE": "1",
                "SGLANG_NATIVE_MOVE_KV_CACHE": "1",
                "SGLANG_EXTERNAL_MODEL_PACKAGE": "kimi_moe",
                "SGLANG_CPU_OMP_THREADS_BIND": cpu_binds(2),
            },
            pythonpath=(str(CPU_KERNEL_DIR), str(MOE_PACKAGE_DIR)),
        ),
        Profile("gpu-small", "one GPU, any local MoE checkpoint (--model-path)", None, _gpu_small, env=_OFFLINE),
        Profile("kimi-k2", "Kimi K2, 2 nodes x 8 H200, tensor parallel 16", "moonshotai/Kimi-K2-Instruct", _kimi_k2),
        Profile(
            "kimi-k2-dp-ep",
            "Kimi K2, 2 nodes x 8 H200, DP attention + DeepEP all-to-all + EPLB",
            "moonshotai/Kimi-K2-Instruct",
            _kimi_k2_dp_ep,
        ),
        Profile("team", "N workers of --worker-profile behind SGLang's router (--policy cache_aware)", None, _team),
    )
}
TEAM = "team"
ROUTER_POLICIES = ("cache_aware", "round_robin", "random", "power_of_two")


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise EngineError(f"unknown engine profile {name!r}; known: {', '.join(PROFILES)}") from None


def build_command(cfg: EngineConfig) -> list[str]:
    """The full argv that starts SGLang for `cfg` (pure)."""
    profile = get_profile(cfg.profile)
    if cfg.profile == TEAM:
        _team(cfg)
    model = cfg.model_path or profile.default_model
    if not model:
        raise EngineError(f"profile {cfg.profile} needs --model-path (a local checkpoint directory)")
    return [
        cfg.python,
        "-m",
        "sglang.launch_server",
        "--model-path",
        model,
        *profile.flags(cfg),
        *_common_flags(cfg),
        *cfg.extra_args,
    ]


def worker_configs(cfg: EngineConfig, ports: list[int]) -> list[EngineConfig]:
    """A team's workers: `cfg.worker_profile` on each of `ports`, logging beside the router (pure)."""
    if cfg.worker_profile == TEAM:
        raise EngineError("a team's workers cannot be teams")
    get_profile(cfg.worker_profile)
    return [
        replace(
            cfg,
            profile=cfg.worker_profile,
            port=port,
            log_file=f"{cfg.log_file}.worker{i}" if cfg.log_file else None,
        )
        for i, port in enumerate(ports)
    ]


def router_command(cfg: EngineConfig, worker_urls: list[str], metrics_port: int) -> list[str]:
    """The argv of SGLang's router (the sglang-router package) in front of `worker_urls` (pure).

    The router forwards /generate (streamed), the OpenAI-compatible routes and /health, but not
    /abort_request: kimi-lsp tells the workers of an abort itself (engine.workers, docs/deployment.md)."""
    if cfg.policy not in ROUTER_POLICIES:
        raise EngineError(f"unknown router policy {cfg.policy!r}; known: {', '.join(ROUTER_POLICIES)}")
    return [
        cfg.python,
        "-m",
        "sglang_router.launch_router",
        "--host",
        cfg.host,
        "--port",
        str(cfg.port),
        "--worker-urls",
        *worker_urls,
        "--policy",
        cfg.policy,
        "--prometheus-host",
        cfg.host,
        "--prometheus-port",
        str(metrics_port),
        "--log-level",
        "warn",
    ]


def build_env(cfg: EngineConfig, base: dict[str, str] | None = None) -> dict[str, str]:
    """The engine process's environment: `base` (default os.environ) plus the profile's variables."""
    profile = get_profile(cfg.profile)
    env = dict(os.environ if base is None else base)
    env.update(profile.env)
    if profile.pythonpath:
        parts = [*profile.pythonpath, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _shm_files() -> set[Path]:
    return set(SHM_DIR.glob("sglang_*")) if SHM_DIR.is_dir() else set()


class EngineProcess:
    """One SGLang server process group. Not thread-safe; use as a context manager or start()/stop().

    start() returns at once; wait_ready() blocks until GET /health answers 200 (or raises EngineError
    naming the log file); stop() ends the whole process group and removes the /dev/shm/sglang_* files
    that appeared while it ran.
    """

    def __init__(
        self, config: EngineConfig, *, die_with_parent: bool = False, command: list[str] | None = None
    ) -> None:
        """die_with_parent: the kernel sends the engine SIGTERM when the process that started it dies, even
        by SIGKILL (Linux PR_SET_PDEATHSIG), so an embedding language server never leaves it orphaned.
        command: run this instead of the profile's server (a team's router)."""
        self.config = config
        self.die_with_parent = die_with_parent
        self.command = command if command is not None else build_command(config)
        self.log_path = (
            Path(config.log_file)
            if config.log_file
            else Path(tempfile.mkstemp(prefix="kimi-engine-", suffix=".log")[1])
        )
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._shm_before: set[Path] = set()

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        """The launcher's exit code once it has exited, else None (also None before start)."""
        return self._proc.poll() if self._proc else None

    def start(self) -> None:
        if self._proc is not None:
            raise EngineError("engine already started")
        self._shm_before = _shm_files()
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self.command,
            env=build_env(self.config) if self.config.profile != TEAM else dict(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
        )

    def health(self, timeout: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/health", timeout=timeout) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float | None = None) -> float:
        """Block until /health answers; return the seconds waited. Raises EngineError on exit or timeout."""
        if self._proc is None:
            raise EngineError("engine not started")
        limit = self.config.startup_timeout if timeout is None else timeout
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if self._proc.poll() is not None:
                raise EngineError(
                    f"engine exited with code {self._proc.returncode} before it was ready; "
                    f"see {self.log_path}\n{self.log_tail()}"
                )
            if self.health():
                return time.monotonic() - t0
            time.sleep(0.5)
        raise EngineError(f"engine not ready after {limit:.0f}s; see {self.log_path}\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after `grace` seconds; returns the exit code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=grace)
            _signal_group(proc.pid, signal.SIGKILL)  # children that outlived the launcher
        finally:
            if self._log:
                self._log.close()
            self._remove_shm()
        return proc.returncode

    def _remove_shm(self) -> None:
        for path in _shm_files() - self._shm_before:
            path.unlink(missing_ok=True)

    def __enter__(self) -> EngineProcess:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Team:
    """A `team` profile's processes as one unit: `cfg.workers` SGLang servers of `cfg.worker_profile` on free
    ports, and SGLang's router on `cfg.port` in front of them. The interface of EngineProcess: start() starts
    the workers; wait_ready() waits for each worker's /health, then starts the router and waits for its
    /health (raises EngineError naming the log that says why); stop() stops the router, then every worker,
    each a whole process group. `worker_urls`: where the workers listen (kimi-lsp's engine.workers)."""

    def __init__(self, config: EngineConfig, *, die_with_parent: bool = False) -> None:
        if config.workers < 1:
            raise EngineError(f"a team needs at least one worker, not {config.workers}")
        self.config = config
        self.workers = [
            EngineProcess(worker, die_with_parent=die_with_parent)
            for worker in worker_configs(config, [free_port(config.host) for _ in range(config.workers)])
        ]
        self.worker_urls = [worker.base_url for worker in self.workers]
        self.router = EngineProcess(
            config,
            die_with_parent=die_with_parent,
            command=router_command(config, self.worker_urls, free_port(config.host)),
        )
        self.command = self.router.command

    @property
    def base_url(self) -> str:
        return self.router.base_url

    @property
    def log_path(self) -> Path:
        return self.router.log_path

    @property
    def pid(self) -> int | None:
        return self.router.pid

    @property
    def pids(self) -> list[int]:
        """The process group leaders that are running: the workers' and the router's."""
        return [p for p in (*(w.pid for w in self.workers), self.router.pid) if p is not None]

    @property
    def returncode(self) -> int | None:
        """The exit code of the first process of the team that exited, else None."""
        for process in (*self.workers, self.router):
            if process.returncode is not None:
                return process.returncode
        return None

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def health(self, timeout: float = 2.0) -> bool:
        return self.router.pid is not None and self.router.health(timeout)

    def wait_ready(self, timeout: float | None = None) -> float:
        limit = self.config.startup_timeout if timeout is None else timeout
        t0 = time.monotonic()
        for worker in self.workers:
            worker.wait_ready(max(1.0, limit - (time.monotonic() - t0)))
        if self.router.pid is None:
            self.router.start()
        self.router.wait_ready(max(1.0, limit - (time.monotonic() - t0)))
        return time.monotonic() - t0

    def log_tail(self, lines: int = 30) -> str:
        return self.router.log_tail(lines)

    def stop(self, grace: float = 15.0) -> int | None:
        code = self.router.stop(grace)
        for worker in self.workers:
            worker.stop(grace)
        return code

    def __enter__(self) -> Team:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def engine_for(config: EngineConfig, *, die_with_parent: bool = False) -> EngineProcess | Team:
    """The processes `config` names, not started: one SGLang server, or a team of them behind the router."""
    if config.profile == TEAM:
        return Team(config, die_with_parent=die_with_parent)
    return EngineProcess(config, die_with_parent=die_with_parent)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the parent dies (no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
