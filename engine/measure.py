"""Measure a real cpu-tiny SGLang server: boot time, decode speed, prefix-cache reuse, FIM answer.

    python -m kimi_engine.measure [--model-path P] [--json out.json]

Prints one JSON object. A benchmark, not a test: it asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from pathlib import Path
from typing import Any

from kimi_engine.launch import EngineConfig, EngineProcess, default_python, free_port

FIM_PROMPT = (
    '<|fim_prefix|>def mean(values):\n    """Return the arithmetic mean of values."""\n'
    "    total = 0\n    for v in values:\n        total += v\n<|fim_suffix|>\n\n\n"
    "def median(values):\n    ordered = sorted(values)\n<|fim_middle|>"
)


def generate(base_url: str, text: str, **params: Any) -> dict[str, Any]:
    body = json.dumps({"text": text, "sampling_params": {"temperature": 0.0, **params}}).encode()
    req = urllib.request.Request(base_url + "/generate", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as resp:
        result: dict[str, Any] = json.loads(resp.read())
        return result


def decode_ms_per_token(base_url: str, runs: int = 3) -> float:
    """Median of (t(1 + n tokens) - t(1 token)) / n over `runs`: prefill cost cancels out."""
    samples = []
    prompt = "import os\nimport sys\n\n\ndef main(argv):\n    "
    for i in range(runs):
        text = f"# run {i}\n{prompt}"
        t0 = time.perf_counter()
        generate(base_url, text, max_new_tokens=1, ignore_eos=True)
        t1 = time.perf_counter()
        generate(base_url, text + " ", max_new_tokens=65, ignore_eos=True)
        t2 = time.perf_counter()
        samples.append(((t2 - t1) - (t1 - t0)) / 64 * 1000)
    return round(statistics.median(samples), 2)


def prefix_cache(base_url: str) -> dict[str, Any]:
    shared = "".join(f"def helper_{i}(value):\n    return value * {i} + {i * 7}\n\n\n" for i in range(40))
    out = {}
    for name, tail in (("cold", "def alpha("), ("warm", "def beta(")):
        t0 = time.perf_counter()
        meta = generate(base_url, shared + tail, max_new_tokens=16)["meta_info"]
        out[name] = {
            "prompt_tokens": meta["prompt_tokens"],
            "cached_tokens": meta["cached_tokens"],
            "seconds": round(time.perf_counter() - t0, 3),
        }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-path", default=None)
    p.add_argument("--json", default="")
    args = p.parse_args(argv)
    cfg = EngineConfig(port=free_port(), model_path=args.model_path, python=default_python())
    engine = EngineProcess(cfg)
    t0 = time.monotonic()
    engine.start()
    try:
        engine.wait_ready()
        result: dict[str, Any] = {"boot_seconds": round(time.monotonic() - t0, 1)}
        fim = generate(engine.base_url, FIM_PROMPT, max_new_tokens=32)
        result["fim"] = {"completion": fim["text"], "finish_reason": fim["meta_info"]["finish_reason"]["type"]}
        result["decode_ms_per_token"] = decode_ms_per_token(engine.base_url)
        result["prefix_cache"] = prefix_cache(engine.base_url)
    finally:
        t1 = time.monotonic()
        engine.stop()
    result["stop_seconds"] = round(time.monotonic() - t1, 1)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
