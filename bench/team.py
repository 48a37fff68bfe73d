"""A team on one engine deployment: 8 developers typing at once, each in a file of their own, through SGLang's
router with the cache-aware policy, through its round-robin policy, and straight to one worker, in one run.

Two cpu-tiny SGLang workers are started once (engine/launch.py's `team` profile: the workers and a cache-aware
router), plus a second router with the round-robin policy in front of the same workers. Each phase flushes
both workers' caches, then replays the typing: every developer types one character every --interval-ms
seconds at the end of their file and asks for a completion of the text up to the cursor (kimi-tiny's
left-to-right prompt), the next keystroke cancelling the request still running (kimi-lsp's supersede: the
stream is left and the request aborted by id). The developers start staggered, so their keystrokes interleave.

Per phase: median cached/prompt tokens of every request that got as far as its first token (what the worker
reports once the prefill is done), p50/p95 latency of the answered ones, answered requests per second, and the decode tokens wasted per cancel (tokens the workers
generated - by their `sglang:generation_tokens_total` - beyond those streamed to a developer before the
cancel). The phase "router, abort to router only" sends the abort where the router is the only URL kimi-lsp
knows (sglang-router does not forward /abort_request: the worker notices the closed stream later); the
others also tell each worker (`engine.workers`), as kimi-lsp does when configured.

    python bench/team.py [--developers 8] [--keystrokes 6] [--interval-ms 2500] [--file-lines 80] [--worker-tokens 4096]

Each worker's KV cache (--worker-tokens) holds about half the developers' files (80 lines: about 800 tokens each), as a GPU replica's holds a
share of a team's: all 8 files do not fit one worker, 4 do.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from kimi_engine.launch import EngineConfig, EngineProcess, Team, free_port, router_command

from kimi_lsp.model.client import EngineError, GenerateRequest, SGLangEngine
from kimi_lsp.model.embedded import engine_python


@dataclass
class Phase:
    name: str
    url: str
    abort_urls: tuple[str, ...]
    ratios: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    cancels: int = 0
    streamed_tokens: int = 0
    generated_tokens: float = 0.0
    seconds: float = 0.0


def developer_file(dev: int, lines: int) -> str:
    """A file of its own for each developer (no two share more than a few tokens of prefix)."""
    out = [f"# module {dev}: inventory rules for warehouse {dev * 37 % 101}\n"]
    i = 0
    while len(out) < lines:
        name = f"w{dev}_rule_{i}"
        out += [
            f"def {name}(stock_{dev}, limit):\n",
            f"    return stock_{dev} * {i + dev} - limit // {i % 7 + 1}\n",
            "\n",
        ]
        i += 1
    return "".join(out[:lines]) + f"def w{dev}_total(items):\n    return sum("


def metric(base_url: str, name: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    return sum(float(m.group(1)) for m in re.finditer(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", text, re.M))


async def one_request(engine: SGLangEngine, phase: Phase, rid: str, prompt: str, max_tokens: int) -> None:
    """One keystroke's request: the answer's figures when it finishes; cancelled by the next keystroke."""
    started = time.perf_counter()
    tokens, finished = 0, False
    chunks = engine.stream(GenerateRequest(rid, prompt, max_tokens, 0.0))
    try:
        async for chunk in chunks:
            tokens += 1
            if tokens == 1 and chunk.prompt_tokens:  # the prefill is done: what the cache served is known
                phase.ratios.append(chunk.cached_tokens / chunk.prompt_tokens)
            if chunk.finish_reason is not None:
                finished = True
                phase.latencies_ms.append((time.perf_counter() - started) * 1000)
                break
    except EngineError as error:
        print(f"  {phase.name}: {error}", file=sys.stderr)
        finished = True
    finally:
        phase.streamed_tokens += tokens
        await chunks.aclose()
        if not finished:
            phase.cancels += 1
            await asyncio.shield(engine.abort(rid))


async def developer(dev: int, phase: Phase, args: argparse.Namespace) -> None:
    engine = SGLangEngine(phase.url, timeout_s=60, abort_urls=phase.abort_urls)
    text = developer_file(dev, args.file_lines)
    typed = f"x_{dev} * {dev} for x_{dev} in items if x_{dev} > {dev})\n"
    await asyncio.sleep(dev * args.interval_ms / 1000 / args.developers)  # staggered: keystrokes interleave
    running: asyncio.Task[None] | None = None
    for k in range(args.keystrokes):
        text += typed[k % len(typed)]
        if running is not None and not running.done():
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        running = asyncio.create_task(one_request(engine, phase, f"team-{phase.name}-{dev}-{k}", text, args.max_tokens))
        await asyncio.sleep(args.interval_ms / 1000)
    if running is not None:
        await asyncio.gather(running, return_exceptions=True)
    await engine.close()


async def run_phase(phase: Phase, workers: list[str], args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        for worker in workers:
            (await http.post(f"{worker}/flush_cache")).raise_for_status()
    generated = sum(metric(w, "sglang:generation_tokens_total") for w in workers)
    t0 = time.perf_counter()
    await asyncio.gather(*(developer(dev, phase, args) for dev in range(args.developers)))
    phase.seconds = time.perf_counter() - t0
    for _ in range(60):  # aborted requests still running on a worker finish (or are noticed) within seconds
        if all(metric(w, "sglang:num_running_reqs") == 0 for w in workers):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(3.0)  # a closed stream is aborted 2 s after SGLang notices it
    phase.generated_tokens = sum(metric(w, "sglang:generation_tokens_total") for w in workers) - generated


def report(phases: list[Phase], args: argparse.Namespace) -> None:
    print(
        f"\n{args.developers} developers x {args.keystrokes} keystrokes every {args.interval_ms} ms, "
        f"2 cpu-tiny workers of {args.worker_tokens} KV tokens each, max_new_tokens {args.max_tokens}\n"
    )
    print(
        "| route | answered | median cached/prompt | p50 ms | p95 ms | answered req/s | cancels | wasted decode tokens / cancel |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for p in phases:
        lat = sorted(p.latencies_ms)
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))] if lat else float("nan")
        wasted = (p.generated_tokens - p.streamed_tokens) / p.cancels if p.cancels else 0.0
        print(
            f"| {p.name} | {len(lat)} | {statistics.median(p.ratios) if p.ratios else float('nan'):.2f} | "
            f"{statistics.median(lat) if lat else float('nan'):.0f} | {p95:.0f} | {len(lat) / p.seconds:.2f} | "
            f"{p.cancels} | {max(wasted, 0.0):.1f} |"
        )


async def main_async(args: argparse.Namespace) -> int:
    python = engine_python()
    if python is None:
        print("no Python with SGLang: run `make engine`", file=sys.stderr)
        return 2
    logs = Path(tempfile.mkdtemp(prefix="kimi-team-bench-"))
    config = EngineConfig(
        profile="team",
        port=free_port(),
        python=python,
        log_file=str(logs / "router.log"),
        workers=2,
        extra_args=("--max-total-tokens", str(args.worker_tokens)),
    )
    team = Team(config)
    round_robin: EngineProcess | None = None
    try:
        team.start()
        print(f"starting 2 workers and the routers (logs: {logs})", file=sys.stderr)
        await asyncio.to_thread(team.wait_ready)
        rr_config = EngineConfig(
            profile="team", port=free_port(), python=python, log_file=str(logs / "router-rr.log"), policy="round_robin"
        )
        round_robin = EngineProcess(rr_config, command=router_command(rr_config, team.worker_urls, free_port()))
        round_robin.start()
        await asyncio.to_thread(round_robin.wait_ready, 120)
        workers = team.worker_urls
        phases = [
            Phase("one worker, direct", workers[0], ()),
            Phase("router round-robin", round_robin.base_url, tuple(workers)),
            Phase("router cache-aware", team.base_url, tuple(workers)),
            Phase("router cache-aware, abort to router only", team.base_url, ()),
        ]
        for phase in phases:
            print(f"phase: {phase.name}", file=sys.stderr)
            await run_phase(phase, workers if phase.url != workers[0] else workers[:1], args)
        report(phases, args)
    finally:
        if round_robin is not None:
            round_robin.stop()
        team.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--developers", type=int, default=8)
    parser.add_argument("--keystrokes", type=int, default=6)
    parser.add_argument("--interval-ms", type=int, default=2500)
    parser.add_argument("--file-lines", type=int, default=80)
    parser.add_argument("--worker-tokens", type=int, default=4096, help="each worker's KV cache, in tokens")
    parser.add_argument("--max-tokens", type=int, default=16)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
