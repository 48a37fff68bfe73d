/* tree-sitter's C runtime, compiled into the `_outline` extension: lib.c comes from the sdist of the pinned
 * tree-sitter (tools/tree-sitter-runtime.sh), whose directory setup.py puts on the include path. */
#include "lib.c"
