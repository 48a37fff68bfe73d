"""The optional C extensions; everything else about the package is in pyproject.toml.

kimi_lsp/index/_symtab.c (the symbol table's sort) needs only a C compiler. kimi_lsp/index/_outline.c (the cold
indexer's extractor) is compiled together with tree-sitter's C runtime when KIMI_TS_RUNTIME names the runtime's
lib/ directory (`make venv` fetches it: tools/tree-sitter-runtime.sh). Without them, or when the compiler fails,
kimi-lsp installs as pure Python, with the same results.
"""

import os

from setuptools import Extension, setup

runtime = os.environ.get("KIMI_TS_RUNTIME", "")
extensions = [Extension("kimi_lsp.index._symtab", sources=["kimi_lsp/index/_symtab.c"], optional=True)]
if runtime:
    extensions.append(Extension(
        "kimi_lsp.index._outline",
        sources=["kimi_lsp/index/_outline.c", "kimi_lsp/index/_runtime.c"],
        include_dirs=[os.path.join(runtime, "include"), os.path.join(runtime, "src")],
        extra_compile_args=["-std=gnu11", "-fvisibility=hidden", "-w"],
        optional=True,
    ))

setup(ext_modules=extensions)
