"""What the alternatives of an invoked inline request cost on a real SGLang server (cpu-tiny, started here):
one request with n=4 samples (SGLang's parallel sampling, pipeline.alternatives' request for the default
model.suggestions 3) against the greedy suggestion before it and against 4 separate requests sent at once,
each over the same ~530-token prompt, measured side by side in one run (the first round warms up).

    python bench/parallel_samples.py [--rounds 8] [--max-tokens 24]

Prints p50/p90 per kind and the ratios at p50. Needs the engine's environment (`make engine`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from kimi_engine.launch import EngineConfig, EngineProcess, free_port

from kimi_lsp.model.client import GenerateRequest, SGLangEngine
from kimi_lsp.model.embedded import engine_python

CODE = "".join(f"def helper_{i}(value):\n    return value * {i} + {i * 7}\n\n\n" for i in range(30))
GREEDY, SAMPLES, SEPARATE = "greedy, n=1", "one request, n=4 (t=0.8)", "4 requests at once, n=1 (t=0.8)"


async def timed(engine: SGLangEngine, request: GenerateRequest) -> tuple[float, int]:
    """Milliseconds until the stream ended, and how many samples it carried."""
    started = time.perf_counter()
    samples = set()
    async for chunk in engine.stream(request):
        samples.add(chunk.index)
    return (time.perf_counter() - started) * 1000, len(samples)


async def measure(url: str, rounds: int, max_tokens: int) -> dict[str, list[float]]:
    engine = SGLangEngine(url, timeout_s=600)
    results: dict[str, list[float]] = {GREEDY: [], SAMPLES: [], SEPARATE: []}
    try:
        for number in range(rounds + 1):
            prompt = CODE + f"def helper_{30 + number}(value):\n    return value * "
            ms, _ = await timed(engine, GenerateRequest(f"g{number}", prompt, max_tokens, 0.0, ("\n\n",)))
            sampled, count = await timed(engine, GenerateRequest(f"s{number}", prompt, max_tokens, 0.8, ("\n\n",), n=4))
            assert count == 4, count
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    timed(engine, GenerateRequest(f"c{number}-{i}", prompt, max_tokens, 0.8, ("\n\n",)))
                    for i in range(4)
                )
            )
            if number:  # round 0 warms up
                results[GREEDY].append(ms)
                results[SAMPLES].append(sampled)
                results[SEPARATE].append((time.perf_counter() - started) * 1000)
    finally:
        await engine.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=24)
    args = parser.parse_args()
    python = engine_python()
    if python is None:
        raise SystemExit("no environment with SGLang (make engine)")
    process = EngineProcess(
        EngineConfig(profile="cpu-tiny", host="127.0.0.1", port=free_port(), python=python, startup_timeout=600)
    )
    process.start()
    try:
        process.wait_ready()
        results = asyncio.run(measure(process.base_url, args.rounds, args.max_tokens))
    finally:
        process.stop()
    p50 = {name: statistics.median(values) for name, values in results.items()}
    print(f"{'':34s} {'p50 ms':>9s} {'p90 ms':>9s}   ({args.rounds} rounds, max {args.max_tokens} tokens)")
    for name, values in results.items():
        p90 = statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]
        print(f"{name:34s} {p50[name]:9.1f} {p90:9.1f}")
    print(f"n=4 request over the greedy one at p50: {p50[SAMPLES] / p50[GREEDY]:.2f}x")
    print(f"n=4 request over 4 requests at once at p50: {p50[SAMPLES] / p50[SEPARATE]:.2f}x")


if __name__ == "__main__":
    main()
