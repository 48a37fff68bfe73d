"""kimi_engine.launch: the command line of every profile, the CLI mapping and EngineProcess's lifecycle.

No SGLang needed: the lifecycle tests run a stand-in "interpreter" that serves /health and spawns a child.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import stat
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from kimi_engine.__main__ import main, parse_args
from kimi_engine.launch import (
    CPU_KERNEL_DIR,
    EP_ARCHITECTURE,
    MOE_PACKAGE_DIR,
    PROFILES,
    TINY_MODEL_DIR,
    EngineConfig,
    EngineError,
    EngineProcess,
    Team,
    build_command,
    build_env,
    cpu_binds,
    free_port,
    router_command,
    worker_configs,
)

ALWAYS = [
    "--schedule-policy lpm",
    "--enable-cache-report",
    "--enable-metrics",
    "--constrained-json-disable-any-whitespace",
]


def _cmd(**kw: object) -> str:
    return " ".join(build_command(EngineConfig(**kw)))  # type: ignore[arg-type]


def _multi(profile: str) -> str:
    return _cmd(profile=profile, dist_init_addr="10.1.2.3:50000", node_rank=1)


@pytest.mark.parametrize(
    "cmd",
    [
        _cmd(),
        _cmd(profile="cpu-tiny-ep2"),
        _cmd(profile="gpu-small", model_path="/ckpt/moe"),
        _multi("kimi-k2"),
        _multi("kimi-k2-dp-ep"),
    ],
)
def test_every_profile_keeps_radix_cache_prefix_scheduling_and_reports(cmd: str) -> None:
    assert " -m sglang.launch_server --model-path " in cmd
    for flag in ALWAYS:
        assert flag in cmd
    assert "--disable-radix-cache" not in cmd
    assert "--host 127.0.0.1 --port 30000" in cmd


def test_cpu_tiny_is_the_default_and_runs_our_model_on_the_cpu() -> None:
    cmd = _cmd()
    assert f"--model-path {TINY_MODEL_DIR}" in cmd
    for flag in [
        "--device cpu",
        "--attention-backend torch_native",
        "--cuda-graph-backend-decode disabled",
        "--cuda-graph-backend-prefill disabled",
        "--sleep-on-idle",
        "--skip-server-warmup",
    ]:
        assert flag in cmd


def test_cpu_tiny_environment_puts_the_cpu_stand_ins_first_on_pythonpath() -> None:
    env = build_env(EngineConfig(), base={"PYTHONPATH": "/elsewhere", "HOME": "/h"})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(CPU_KERNEL_DIR), "/elsewhere"]
    assert env["SGLANG_USE_CPU_ENGINE"] == "1"
    assert env["SGLANG_NATIVE_MOVE_KV_CACHE"] == "1"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["HOME"] == "/h"
    assert (CPU_KERNEL_DIR / "sgl_kernel" / "__init__.py").is_file()


def test_cpu_tiny_ep2_runs_our_expert_parallel_model_package_on_two_cpu_ranks() -> None:
    cmd = _cmd(profile="cpu-tiny-ep2")
    assert f"--model-path {TINY_MODEL_DIR}" in cmd and "--device cpu" in cmd
    assert "--tp-size 2 --ep-size 2" in cmd
    assert f'--json-model-override-args {{"architectures": ["{EP_ARCHITECTURE}"]}}' in cmd
    env = build_env(EngineConfig(profile="cpu-tiny-ep2"), base={})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(CPU_KERNEL_DIR), str(MOE_PACKAGE_DIR)]
    assert env["SGLANG_EXTERNAL_MODEL_PACKAGE"] == "kimi_moe"
    assert len(env["SGLANG_CPU_OMP_THREADS_BIND"].split("|")) == 2
    assert (MOE_PACKAGE_DIR / "kimi_moe" / "qwen3_ep.py").is_file()


def test_cpu_binds_split_the_usable_cpus_between_ranks() -> None:
    assert cpu_binds(2, [0, 1]) == "0|1"
    assert cpu_binds(2, [4, 5, 6, 7]) == "4,5|6,7"
    assert cpu_binds(2, [0, 1, 2]) == "0|1,2"
    assert cpu_binds(2, [3]) == "3|3"  # fewer CPUs than ranks: they share


def test_gpu_profiles_do_not_get_the_cpu_stand_ins() -> None:
    env = build_env(EngineConfig(profile="gpu-small", model_path="/m"), base={})
    assert "PYTHONPATH" not in env and "SGLANG_USE_CPU_ENGINE" not in env


def test_gpu_small_needs_a_local_checkpoint() -> None:
    assert "--tp-size 1" in _cmd(profile="gpu-small", model_path="/ckpt/moe")
    with pytest.raises(EngineError, match="--model-path"):
        build_command(EngineConfig(profile="gpu-small"))


def test_kimi_k2_is_two_nodes_tensor_parallel_16() -> None:
    cmd = _multi("kimi-k2")
    for flag in [
        "--tp-size 16",
        "--dist-init-addr 10.1.2.3:50000",
        "--nnodes 2",
        "--node-rank 1",
        "--trust-remote-code",
        "--tool-call-parser kimi_k2",
        "moonshotai/Kimi-K2-Instruct",
    ]:
        assert flag in cmd
    assert "--enable-dp-attention" not in cmd
    with pytest.raises(EngineError, match="--dist-init-addr"):
        build_command(EngineConfig(profile="kimi-k2"))


def test_kimi_k2_dp_ep_adds_dp_attention_deepep_and_eplb() -> None:
    cmd = _multi("kimi-k2-dp-ep")
    for flag in [
        "--tp-size 16",
        "--enable-dp-attention",
        "--dp-size 16",
        "--moe-a2a-backend deepep",
        "--enable-eplb",
        "--ep-num-redundant-experts",
        "--tool-call-parser kimi_k2",
    ]:
        assert flag in cmd


def test_host_port_model_and_extra_args_are_passed_through() -> None:
    cmd = build_command(EngineConfig(host="0.0.0.0", port=1234, model_path="/x", extra_args=("--log-level", "debug")))
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0" and cmd[cmd.index("--port") + 1] == "1234"
    assert cmd[cmd.index("--model-path") + 1] == "/x"
    assert cmd[-2:] == ["--log-level", "debug"]


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(EngineError, match=r"unknown engine profile 'nope'.*cpu-tiny"):
        build_command(EngineConfig(profile="nope"))


def test_every_config_field_is_one_cli_flag() -> None:
    argv = [
        "--profile",
        "kimi-k2",
        "--host",
        "0.0.0.0",
        "--port",
        "7",
        "--model-path",
        "/m",
        "--dist-init-addr",
        "h:1",
        "--node-rank",
        "1",
        "--python",
        "/py",
        "--log-file",
        "/l",
        "--startup-timeout",
        "9",
        "--print-command",
        "--workers",
        "3",
        "--worker-profile",
        "gpu-small",
        "--policy",
        "round_robin",
        "--",
        "--log-level",
        "info",
    ]
    cfg = parse_args(argv)
    assert cfg == EngineConfig(
        "kimi-k2",
        "0.0.0.0",
        7,
        "/m",
        "h:1",
        1,
        "/py",
        "/l",
        9.0,
        True,
        ("--log-level", "info"),
        3,
        "gpu-small",
        "round_robin",
    )
    flags = {a for a in argv if a.startswith("--") and a != "--"} - {"--log-level"}
    fields = {f.name for f in dataclasses.fields(EngineConfig)} - {"extra_args"}
    assert flags == {"--" + name.replace("_", "-") for name in fields}
    assert parse_args([]) == EngineConfig()


def test_print_command_prints_env_and_argv(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--print-command", "--port", "4321"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PYTHONPATH=") and "SGLANG_USE_CPU_ENGINE=1" in out and "--port 4321" in out
    assert main(["--profile", "gpu-small", "--print-command"]) == 1


def test_free_port_can_be_bound() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert set(PROFILES) == {"cpu-tiny", "cpu-tiny-ep2", "gpu-small", "kimi-k2", "kimi-k2-dp-ep", "team"}


def test_team_router_fronts_every_worker_with_the_cache_aware_policy() -> None:
    cfg = EngineConfig(profile="team", port=8000, python="/py", log_file="/l/team.log")
    workers = worker_configs(cfg, [8101, 8102])
    assert [(w.profile, w.port, w.log_file) for w in workers] == [
        ("cpu-tiny", 8101, "/l/team.log.worker0"),
        ("cpu-tiny", 8102, "/l/team.log.worker1"),
    ]
    assert "--enable-cache-report" in build_command(workers[0])  # each worker reports cached tokens
    router = " ".join(router_command(cfg, ["http://127.0.0.1:8101", "http://127.0.0.1:8102"], 8200))
    assert router.startswith("/py -m sglang_router.launch_router --host 127.0.0.1 --port 8000 ")
    assert "--worker-urls http://127.0.0.1:8101 http://127.0.0.1:8102 --policy cache_aware" in router
    assert "--prometheus-port 8200" in router  # its own, so two routers on one machine do not collide
    with pytest.raises(EngineError, match="unknown router policy 'fastest'"):
        router_command(replace(cfg, policy="fastest"), [], 1)
    with pytest.raises(EngineError, match="cannot be teams"):
        worker_configs(replace(cfg, worker_profile="team"), [1])
    with pytest.raises(EngineError, match="router and its workers"):
        build_command(cfg)


FAKE_SERVER = textwrap.dedent(f"""\
    #!{sys.executable}
    # Stand-in for `python -m sglang.launch_server ...`: a child that sleeps, then GET /health -> 200.
    import http.server, subprocess, sys, time
    port = int(sys.argv[sys.argv.index("--port") + 1])
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print("child", child.pid, flush=True)
    if "--crash" in sys.argv:
        sys.exit(3)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404); self.end_headers()
    open("/dev/shm/sglang_kimi_test_" + str(port), "w").close()
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
""")


@pytest.fixture
def fake_python(tmp_path: Path) -> str:
    path = tmp_path / "fake-python"
    path.write_text(FAKE_SERVER)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


def test_engine_process_waits_for_health_and_stops_the_whole_group(fake_python: str, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "engine.log"
    cfg = EngineConfig(port=port, python=fake_python, log_file=str(log), startup_timeout=30)
    with EngineProcess(cfg) as engine:
        assert engine.health() and engine.base_url == f"http://127.0.0.1:{port}"
        assert os.getpgid(engine.pid or 0) == engine.pid  # its own process group
        child = int(log.read_text().split()[1])
        assert _alive(child)
    deadline = time.monotonic() + 10  # SIGKILL is delivered at once, but the kernel ends the process a moment later
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(child)
    assert not Path(f"/dev/shm/sglang_kimi_test_{port}").exists()


def test_engine_process_failure_names_the_log_file(fake_python: str, tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    cfg = EngineConfig(port=free_port(), python=fake_python, log_file=str(log), extra_args=("--crash",))
    engine = EngineProcess(cfg)
    engine.start()
    with pytest.raises(EngineError, match=f"exited with code 3.*{log}"):
        engine.wait_ready(timeout=30)
    engine.stop()


def test_engine_process_timeout_names_the_log_file(tmp_path: Path) -> None:
    script = tmp_path / "silent"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(600)\n")
    script.chmod(0o755)
    log = tmp_path / "engine.log"
    engine = EngineProcess(EngineConfig(port=free_port(), python=str(script), log_file=str(log)))
    engine.start()
    with pytest.raises(EngineError, match=f"not ready after 1s.*{log}"):
        engine.wait_ready(timeout=1)
    assert engine.stop(grace=5) == -signal.SIGTERM


def test_team_starts_workers_then_router_and_stops_every_process(fake_python: str, tmp_path: Path) -> None:
    log = tmp_path / "team.log"
    cfg = EngineConfig(profile="team", port=free_port(), python=fake_python, log_file=str(log), startup_timeout=30)
    with Team(cfg) as team:
        assert team.health() and len(team.pids) == 3
        children = [int(Path(f"{log}{suffix}").read_text().split()[1]) for suffix in ("", ".worker0", ".worker1")]
        assert all(_alive(pid) for pid in [*team.pids, *children])
        pids = team.pids
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in [*pids, *children]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(_alive(pid) for pid in [*pids, *children])
