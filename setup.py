"""The optional C extensions; everything else about the package is in pyproject.toml.

kimi_lsp/index/_symtab.c (the symbol table's sort) needs only a C compiler. kimi_lsp/index/_outline.c (the cold
indexer's extractor) is linked with tree-sitter's C runtime when KIMI_TS_RUNTIME names the runtime's lib/
directory (`make venv` fetches it: tools/tree-sitter-runtime.sh). Without them, or when the compiler fails,
kimi-lsp installs as pure Python, with the same results (KIMI_LSP_NO_NATIVE=1 gives that behaviour at run time
with the extensions built).

The project's own C is compiled with -Wall -Wextra -Werror: a warning fails that extension's build (and, the
extensions being optional, leaves that part in Python). Only tree-sitter's runtime (_runtime.c, which includes
the runtime's lib.c) is compiled with warnings off, as a separate object: setuptools has no per-source flags,
so `BuildExt` compiles an extension's `quiet_sources` itself and links the objects in.

KIMI_PGO=generate:DIR or use:DIR builds the extractor for profile-guided optimisation: instrumented, or
optimised with the profile in DIR (tools/pgo-build.sh runs both steps and the training between them). All of
the extractor's object files, those of OUTLINE_SOURCES and _runtime.o, are built with the profile flags.
"""

from __future__ import annotations

import os
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OWN_CODE_FLAGS = ["-Wall", "-Wextra", "-Werror"]
# the extractor's own translation units (tools/pgo-build.sh expects a profile of each, and of _runtime.c)
OUTLINE_SOURCES = [
    "kimi_lsp/index/_outline.c",
    "kimi_lsp/index/_outline_init.c",
    "kimi_lsp/index/_outline_defs.c",
    "kimi_lsp/index/_outline_text.c",
]

runtime = os.environ.get("KIMI_TS_RUNTIME", "")
pgo_mode, _, pgo_dir = os.environ.get("KIMI_PGO", "").partition(":")
pgo_flags = {
    "generate": ["-fprofile-generate", "-fprofile-update=single", f"-fprofile-dir={pgo_dir}"],
    # code the training did not run stays optimised for speed (partial training), not for size
    "use": ["-fprofile-use", "-fprofile-partial-training", "-fprofile-correction", f"-fprofile-dir={pgo_dir}"],
}.get(pgo_mode, [])


class QuietExtension(Extension):
    """An extension with sources that are not ours (`quiet_sources`: compiled with warnings off, with their own
    include directories); its `sources` get the usual flags (extra_compile_args)."""

    def __init__(
        self,
        name: str,
        sources: list[str],
        *,
        quiet_sources: list[str],
        quiet_include_dirs: list[str],
        quiet_compile_args: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(name, sources, depends=[*kwargs.pop("depends", []), *quiet_sources], **kwargs)
        self.quiet_sources = quiet_sources
        self.quiet_include_dirs = quiet_include_dirs
        self.quiet_compile_args = quiet_compile_args


class BuildExt(build_ext):
    def build_extension(self, ext: Extension) -> None:
        if isinstance(ext, QuietExtension):
            # a failure here is the extension's failure: optional=True covers it as it covers the rest
            ext.extra_objects = self.compiler.compile(
                ext.quiet_sources,
                output_dir=self.build_temp,
                include_dirs=ext.quiet_include_dirs,
                debug=self.debug,
                extra_postargs=[*ext.quiet_compile_args, "-w"],
                depends=ext.depends,
            )
        super().build_extension(ext)


extensions = [
    Extension(
        "kimi_lsp.index._symtab", sources=["kimi_lsp/index/_symtab.c"], extra_compile_args=OWN_CODE_FLAGS, optional=True
    )
]
if runtime:
    common = ["-std=gnu11", "-fvisibility=hidden", *pgo_flags]
    extensions.append(
        QuietExtension(
            "kimi_lsp.index._outline",
            sources=OUTLINE_SOURCES,
            depends=["kimi_lsp/index/_outline.h"],
            include_dirs=[os.path.join(runtime, "include")],
            extra_compile_args=[*OWN_CODE_FLAGS, *common],
            quiet_sources=["kimi_lsp/index/_runtime.c"],
            quiet_include_dirs=[os.path.join(runtime, "include"), os.path.join(runtime, "src")],
            quiet_compile_args=common,
            extra_link_args=pgo_flags,
            optional=True,
        )
    )

setup(ext_modules=extensions, cmdclass={"build_ext": BuildExt})
