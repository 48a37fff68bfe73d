/* Private to the `_outline` extension: what its translation units share. Not a public or installed API.
 *
 *   _outline.c       the module and the Extractor type: extract() (the query's matches -> definitions found,
 *                    imports, package) and match_count()
 *   _outline_init.c  making and freeing an Extractor: arguments, parser, query, capture roles, predicates
 *   _outline_defs.c  definitions found -> definition tuples: order, parents, kinds, columns, signature
 *   _outline_text.c  docs and imports: doc comments, docstrings, Python imports, other languages' imports
 *
 * Functions one unit calls in another are prefixed outline_ and hidden (never exported from the shared object,
 * whatever the compiler's default visibility); everything else is static to its unit. Every unit includes this
 * header first (PY_SSIZE_T_CLEAN must precede Python.h).
 */
#ifndef KIMI_LSP_OUTLINE_H
#define KIMI_LSP_OUTLINE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include "tree_sitter/api.h"

#define OUTLINE_INTERNAL __attribute__((visibility("hidden")))

enum { ROLE_OTHER, ROLE_NAME, ROLE_DEFINITION, ROLE_IMPORT, ROLE_PACKAGE };
enum { PRED_EQ_STRING, PRED_EQ_CAPTURE };
enum { WRAPPERS, ATTRIBUTES, COMMENTS, FUNCTION_VALUES, NUM_TYPE_SETS }; /* the order of node_types */

typedef struct {
    PyObject *names_tuple; /* owns the strings `names` points into */
    const char **names;    /* NULL-terminated */
} TypeSet;

typedef struct {
    uint16_t pattern;
    uint8_t kind;
    uint8_t negate;
    uint32_t capture;
    uint32_t other;      /* capture id for PRED_EQ_CAPTURE */
    const char *string;  /* for PRED_EQ_STRING, owned by the query */
    uint32_t length;
} Predicate;

typedef struct {
    PyObject_HEAD
    PyObject *language_capsule;
    PyObject *name;
    PyObject *text_imports;
    PyObject *clean_comment;
    PyObject *docstring_text;
    PyObject *empty;
    TypeSet types[NUM_TYPE_SETS];
    TSParser *parser;
    TSQuery *query;
    uint8_t *roles;          /* per capture id */
    int8_t *capture_kinds;   /* per capture id: kind code of a definition capture */
    PyObject **capture_names;/* per capture id */
    Predicate *predicates;
    uint32_t num_predicates;
    uint32_t max_start_depth;
    uint32_t method_parents; /* bit set of kind codes */
    int python, go;
    int k_function, k_method, k_variable, k_constant, k_type, k_struct, k_interface;
    TSFieldId f_body, f_value, f_type, f_name, f_module_name;
} Extractor;

/* a definition capture of one match, with its name capture */
typedef struct {
    TSNode node, name;
    uint32_t start, end, name_start, seq;
    int kind;
} Found;

/* ---- small helpers -------------------------------------------------------------------------------------- */

static inline int is_type(TSNode node, const char *type) {
    return !ts_node_is_null(node) && strcmp(ts_node_type(node), type) == 0;
}

static inline int type_in(TSNode node, const char **types) {
    if (ts_node_is_null(node)) return 0;
    const char *t = ts_node_type(node);
    for (; *types; types++)
        if (strcmp(t, *types) == 0) return 1;
    return 0;
}

static inline PyObject *decode(const char *source, uint32_t start, uint32_t end) {
    return PyUnicode_DecodeUTF8(source + start, (Py_ssize_t)(end - start), "replace");
}

static inline PyObject *node_text(const char *source, TSNode node) {
    return decode(source, ts_node_start_byte(node), ts_node_end_byte(node));
}

static inline TSNode field(TSNode node, TSFieldId id) {
    if (id == 0) {
        TSNode null = {{0, 0, 0, 0}, NULL, NULL};
        return null;
    }
    return ts_node_child_by_field_id(node, id);
}

/* ---- across units --------------------------------------------------------------------------------------- */

/* _outline_init.c: tp_init and tp_dealloc of the Extractor type */
OUTLINE_INTERNAL int outline_extractor_init(Extractor *self, PyObject *args, PyObject *kwargs);
OUTLINE_INTERNAL void outline_extractor_dealloc(Extractor *self);

/* _outline_defs.c: the list of definition tuples (model.RawDefinition) of the n definitions found (reordered in
 * place); NULL with an exception set on error */
OUTLINE_INTERNAL PyObject *outline_definitions(Extractor *self, const char *source, uint32_t length, Found *found,
                                               size_t n);

/* _outline_text.c: a definition's doc (new reference, "" when none; NULL on error), and the imports of an
 * import capture appended to `out` (0, or -1 on error) */
OUTLINE_INTERNAL PyObject *outline_python_docstring(Extractor *self, const char *source, TSNode body);
OUTLINE_INTERNAL PyObject *outline_comment_doc(Extractor *self, const char *source, TSNode node);
OUTLINE_INTERNAL int outline_add_imports(Extractor *self, const char *source, TSNode node, uint32_t capture,
                                         PyObject *out);

#endif /* KIMI_LSP_OUTLINE_H */
