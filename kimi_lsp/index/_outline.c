/* kimi_lsp.index._outline: source bytes -> raw outline, parse and extraction in C.
 *
 * The compiled twin of extract.extract_raw for the cold indexer: the same definitions query, the same
 * rules, the same tuples (see model.RawOutline), with no Python object per syntax node or query match. It is
 * checked against the Python extractor, which stays the reference and serves open documents. Text rules
 * that are rare per file (doc comment and docstring clean-up, non-Python import text) call back into
 * outline_rules.py, so that each rule is written once.
 *
 * This unit owns the module and the Extractor type: extract() runs the query and sorts each match's captures
 * into definitions found, imports and the package; match_count() serves the benchmarks. It must not hold the
 * rules of what a capture becomes (_outline_defs.c, _outline_text.c) nor set an Extractor up
 * (_outline_init.c); _outline.h lists the units and what they share.
 *
 * Extractor(language, query_source, language_name, max_start_depth, kinds, method_parents, node_types,
 *           text_imports, clean_comment, docstring_text)
 *     language: the grammar's PyCapsule; kinds: model.KINDS; method_parents: kind codes under which a
 *     function is a method; node_types: the node type names of outline_rules.py's rules, as four tuples of str
 *     (wrappers, attributes, comments, function values); text_imports(capture_name, text, line) -> list of
 *     raw imports; clean_comment(str) -> str; docstring_text(str) -> str.
 * Extractor.extract(source: bytes) -> (language_name, package, definitions, imports)
 * Extractor.match_count(source: bytes, query: bool = True) -> int
 *     Only the parse and (query=True) the query's matches, counted: what the benchmark compares the parse of
 *     this build with (bench/index.py, bench/parser_build.py).
 *
 * One Extractor per thread: its parser is not shared.
 */
#include "_outline.h"

#include <stdlib.h>

/* ---- matches -------------------------------------------------------------------------------------------- */

static TSNode capture_node(const TSQueryMatch *match, uint32_t capture, int *found) {
    for (uint16_t i = 0; i < match->capture_count; i++) {
        if (match->captures[i].index == capture) {
            *found = 1;
            return match->captures[i].node;
        }
    }
    *found = 0;
    return match->captures[0].node;
}

static int predicates_hold(Extractor *self, const TSQueryMatch *match, const char *source) {
    for (uint32_t i = 0; i < self->num_predicates; i++) {
        const Predicate *p = &self->predicates[i];
        if (p->pattern != match->pattern_index) continue;
        int have;
        TSNode a = capture_node(match, p->capture, &have);
        if (!have) continue;
        uint32_t as = ts_node_start_byte(a), al = ts_node_end_byte(a) - as;
        int equal;
        if (p->kind == PRED_EQ_STRING) {
            equal = al == p->length && memcmp(source + as, p->string, al) == 0;
        } else {
            TSNode b = capture_node(match, p->other, &have);
            if (!have) continue;
            uint32_t bs = ts_node_start_byte(b), bl = ts_node_end_byte(b) - bs;
            equal = al == bl && memcmp(source + as, source + bs, al) == 0;
        }
        if (equal == p->negate) return 0;
    }
    return 1;
}

/* ---- the type ------------------------------------------------------------------------------------------- */

static PyObject *Extractor_extract(Extractor *self, PyObject *arg) {
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "extract() takes bytes");
        return NULL;
    }
    const char *source = PyBytes_AS_STRING(arg);
    Py_ssize_t size = PyBytes_GET_SIZE(arg);
    if (size > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "source too large");
        return NULL;
    }
    uint32_t length = (uint32_t)size;
    TSTree *tree = ts_parser_parse_string(self->parser, NULL, source, length); /* with the GIL: pymalloc */
    if (tree == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tree-sitter could not parse the source");
        return NULL;
    }
    TSQueryCursor *cursor = ts_query_cursor_new();
    ts_query_cursor_set_max_start_depth(cursor, self->max_start_depth);
    ts_query_cursor_exec(cursor, self->query, ts_tree_root_node(tree));
    PyObject *imports = PyList_New(0), *package = self->empty, *defs = NULL, *result = NULL;
    Py_INCREF(package);
    size_t count = 0, capacity = 64;
    uint32_t seq = 0;
    Found *found = malloc(capacity * sizeof(Found));
    if (imports == NULL || found == NULL) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    TSQueryMatch match;
    while (ts_query_cursor_next_match(cursor, &match)) {
        if (match.capture_count == 0 || !predicates_hold(self, &match, source)) continue;
        int have_name = 0;
        TSNode name = {{0, 0, 0, 0}, NULL, NULL};
        for (uint16_t i = 0; i < match.capture_count; i++) {
            if (self->roles[match.captures[i].index] == ROLE_NAME) {
                name = match.captures[i].node;
                have_name = 1;
                break;
            }
        }
        for (uint16_t i = 0; i < match.capture_count; i++) {
            uint32_t capture = match.captures[i].index;
            TSNode node = match.captures[i].node;
            uint8_t role = self->roles[capture];
            if (role == ROLE_DEFINITION && have_name) {
                if (count == capacity) {
                    Found *grown = realloc(found, 2 * capacity * sizeof(Found));
                    if (grown == NULL) { PyErr_NoMemory(); goto done; }
                    found = grown;
                    capacity *= 2;
                }
                Found *f = &found[count++];
                f->node = node;
                f->name = name;
                f->start = ts_node_start_byte(node);
                f->end = ts_node_end_byte(node);
                f->name_start = ts_node_start_byte(name);
                f->seq = seq++;
                f->kind = self->capture_kinds[capture];
                break;
            }
            if (role == ROLE_IMPORT) {
                if (outline_add_imports(self, source, node, capture, imports) < 0) goto done;
                break;
            }
            if (role == ROLE_PACKAGE) {
                PyObject *text = node_text(source, node);
                if (text == NULL) goto done;
                Py_SETREF(package, text);
                break;
            }
        }
    }
    defs = outline_definitions(self, source, length, found, count);
    if (defs != NULL) {
        result = PyTuple_Pack(4, self->name, package, defs, imports);
    }
done:
    free(found);
    Py_XDECREF(defs);
    Py_XDECREF(imports);
    Py_XDECREF(package);
    ts_query_cursor_delete(cursor);
    ts_tree_delete(tree);
    return result;
}

static PyObject *Extractor_match_count(Extractor *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"source", "query", NULL};
    const char *source;
    Py_ssize_t size;
    int query = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y#|p", keywords, &source, &size, &query)) return NULL;
    if (size > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "source too large");
        return NULL;
    }
    TSTree *tree = ts_parser_parse_string(self->parser, NULL, source, (uint32_t)size);
    if (tree == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tree-sitter could not parse the source");
        return NULL;
    }
    long count = 0;
    if (query) {
        TSQueryCursor *cursor = ts_query_cursor_new();
        TSQueryMatch match;
        ts_query_cursor_set_max_start_depth(cursor, self->max_start_depth);
        ts_query_cursor_exec(cursor, self->query, ts_tree_root_node(tree));
        while (ts_query_cursor_next_match(cursor, &match)) count++;
        ts_query_cursor_delete(cursor);
    }
    ts_tree_delete(tree);
    return PyLong_FromLong(count);
}

static PyMethodDef Extractor_methods[] = {
    {"extract", (PyCFunction)Extractor_extract, METH_O,
     "extract(source: bytes) -> (language, package, definitions, imports)"},
    {"match_count", (PyCFunction)(void (*)(void))Extractor_match_count, METH_VARARGS | METH_KEYWORDS,
     "match_count(source: bytes, query: bool = True) -> int: parse only (and count the query's matches)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ExtractorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "kimi_lsp.index._outline.Extractor",
    .tp_basicsize = sizeof(Extractor),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Parses a language's sources and extracts their raw outline.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)outline_extractor_init,
    .tp_dealloc = (destructor)outline_extractor_dealloc,
    .tp_methods = Extractor_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_outline",
    .m_doc = "Source bytes -> raw outline, in C (see extract.py).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__outline(void) {
    /* Python's small-object allocator: the parser makes many small allocations, and this is what the
     * tree-sitter binding does too (parsing holds the GIL for it). */
    ts_set_allocator(PyMem_Malloc, PyMem_Calloc, PyMem_Realloc, PyMem_Free);
    if (PyType_Ready(&ExtractorType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&ExtractorType);
    if (PyModule_AddObject(m, "Extractor", (PyObject *)&ExtractorType) < 0) {
        Py_DECREF(&ExtractorType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
