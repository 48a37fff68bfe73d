"""The floor: a bare pygls server whose inline completion handler returns a constant. No kimi-lsp code.

python bench/bare_server.py                 # the handler returns at once
python bench/bare_server.py --engine URL    # it first makes one httpx streaming POST URL/generate (SGLang's
                                            # shape) and reads the stream to its end: the floor of one HTTP hop
"""

import argparse

import httpx
from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

server = LanguageServer("bare", "0")
engine_url: str | None = None  # --engine
engine: list[httpx.AsyncClient] = []  # the client, made on the server's loop at the first request


@server.feature(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, lsp.InlineCompletionOptions())
async def inline_completion(params: lsp.InlineCompletionParams) -> lsp.InlineCompletionList:
    if engine_url is not None:
        if not engine:  # configured as kimi-lsp's SGLang client configures its own
            engine.append(httpx.AsyncClient(base_url=engine_url, timeout=httpx.Timeout(10.0, connect=2.0)))
        body = {"text": "def add(a, b):", "rid": "bare", "stream": True, "sampling_params": {"max_new_tokens": 64}}
        async with engine[0].stream("POST", "/generate", json=body) as response:
            async for _line in response.aiter_lines():
                pass
    at = lsp.Range(start=params.position, end=params.position)
    return lsp.InlineCompletionList(items=[lsp.InlineCompletionItem(insert_text="return a + b", range=at)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", metavar="URL", help="an SGLang-shaped server to ask once per request")
    engine_url = parser.parse_args().engine
    server.start_io()
