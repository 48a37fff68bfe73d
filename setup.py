"""The optional C extensions; everything else about the package is in pyproject.toml.

kimi_lsp/index/_symtab.c (the symbol table's sort) needs only a C compiler. kimi_lsp/index/_outline.c (the cold
indexer's extractor) is compiled together with tree-sitter's C runtime when KIMI_TS_RUNTIME names the runtime's
lib/ directory (`make venv` fetches it: tools/tree-sitter-runtime.sh). Without them, or when the compiler fails,
kimi-lsp installs as pure Python, with the same results.

KIMI_PGO=generate:DIR or use:DIR builds the extractor for profile-guided optimisation: instrumented, or
optimised with the profile in DIR (tools/pgo-build.sh runs both steps and the training between them).
"""

import os

from setuptools import Extension, setup

runtime = os.environ.get("KIMI_TS_RUNTIME", "")
pgo_mode, _, pgo_dir = os.environ.get("KIMI_PGO", "").partition(":")
pgo_flags = {
    "generate": ["-fprofile-generate", "-fprofile-update=single", f"-fprofile-dir={pgo_dir}"],
    # code the training did not run stays optimised for speed (partial training), not for size
    "use": ["-fprofile-use", "-fprofile-partial-training", "-fprofile-correction", f"-fprofile-dir={pgo_dir}"],
}.get(pgo_mode, [])

extensions = [Extension("kimi_lsp.index._symtab", sources=["kimi_lsp/index/_symtab.c"], optional=True)]
if runtime:
    extensions.append(Extension(
        "kimi_lsp.index._outline",
        sources=["kimi_lsp/index/_outline.c", "kimi_lsp/index/_runtime.c"],
        include_dirs=[os.path.join(runtime, "include"), os.path.join(runtime, "src")],
        extra_compile_args=["-std=gnu11", "-fvisibility=hidden", "-w", *pgo_flags],
        extra_link_args=pgo_flags,
        optional=True,
    ))

setup(ext_modules=extensions)
