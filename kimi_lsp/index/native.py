"""May the index use its optional C extensions: the KIMI_LSP_NO_NATIVE switch, and the extensions themselves.

Owns the one reading of KIMI_LSP_NO_NATIVE and the import of `_outline` (the cold indexer's extractor, used by
extract.py) and `_symtab` (the sort behind a symbol-table base, used by symbase.py): each is the module, or None
when it is not built or must not be used. It must not compute anything the extensions compute: the Python code
beside each user is the reference the extension is tested against, and runs whenever this module says None.

KIMI_LSP_NO_NATIVE: 1 makes the index behave as if the C extensions were not built, both `_outline` and
`_symtab`, as after a plain `pip install .` (no `_outline`) without a C compiler (no `_symtab` either). 0, empty
or unset: use them when built. Any other value is an error (ValueError on import). It is read once, when this
module is imported; the index's worker processes import it afresh in the forkserver, which inherits the
environment of the process that starts it.
"""

from __future__ import annotations

import os
from array import array

NO_NATIVE_ENV = "KIMI_LSP_NO_NATIVE"


def native_enabled() -> bool:
    """False when KIMI_LSP_NO_NATIVE=1 (the C extensions are then not used even if built); raises ValueError
    on a value other than 0, 1 or empty."""
    value = os.environ.get(NO_NATIVE_ENV, "")
    if value not in ("", "0", "1"):
        raise ValueError(f"{NO_NATIVE_ENV} must be 0 or 1 (1: do not use the C extensions), not {value!r}")
    return value != "1"


_enabled = native_enabled()
if _enabled:
    try:
        from kimi_lsp.index import _outline as _outline
    except ImportError:  # built without the C extractor: the Python extractor does all the work
        _outline = None  # type: ignore[assignment]
else:
    _outline = None  # type: ignore[assignment]

# _symtab writes its columns as 32-bit integers: unused where an "I" array is not 32-bit
if _enabled and array("I").itemsize == 4:
    try:
        from kimi_lsp.index import _symtab as _symtab
    except ImportError:  # built without the C extension: the symbol table sorts in Python
        _symtab = None  # type: ignore[assignment]
else:
    _symtab = None  # type: ignore[assignment]
