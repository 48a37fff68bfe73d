"""An instant SGLang-shaped HTTP server for benchmarks: what a real SGLang server looks like on the wire, with
no model behind it, so a benchmark measures the client side of the HTTP hop and nothing else.

    POST /generate        {"text", "rid", "stream": true, ...} -> text/event-stream, HTTP/1.1 chunked, one
                          `data: {"text": <cumulative>, "meta_info": {...}}` event per token, then `data: [DONE]`
    POST /abort_request   {"rid"} -> 200 {}
    GET  /health          -> 200

Keep-alive like uvicorn (SGLang's server). The answer is the same for every prompt: ANSWER, cut into TOKENS,
written all at once (the engine is "instant"); it runs past the end of the block, as a model does, so a client
that stops at the block end stops reading early and aborts. Listens on 127.0.0.1 only.

    python bench/sglang_stub.py [--port 0]     # prints "port N" on stdout once listening
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

# the cursor in bench/lsp_overhead.py's document sits after "def add(a, b):\n    " (healed: the model writes
# the newline and the indentation first), then the model goes on past the function, as models do
TOKENS = ("\n   ", " return", " a", " +", " b", "\n\n\n", "class", " Shape", ":\n", "    def", " area", "(self")
ANSWER = "".join(TOKENS)


def events(prompt: str) -> bytes:
    """The whole streamed body of one /generate answer, chunk-encoded."""
    out = []
    text = ""
    for number, token in enumerate(TOKENS, start=1):
        text += token
        last = number == len(TOKENS)
        meta = {
            "id": "stub",
            "finish_reason": {"type": "length", "length": len(TOKENS)} if last else None,
            "prompt_tokens": max(1, len(prompt) // 4),
            "completion_tokens": number,
            "cached_tokens": max(0, len(prompt) // 4 - 1),
        }
        out.append(b"data: " + json.dumps({"text": text, "meta_info": meta}).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in out) + b"0\r\n\r\n"


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "POST" and path == "/generate":
                prompt = str(json.loads(body).get("text", ""))
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                    + events(prompt)
                )
            elif (method, path) in (("POST", "/abort_request"), ("GET", "/health")):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    try:
        asyncio.run(main(parser.parse_args().port))
    except KeyboardInterrupt:
        sys.exit(0)
