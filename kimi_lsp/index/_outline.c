/* kimi_lsp.index._outline: source bytes -> raw outline, parse and extraction in C.
 *
 * The compiled twin of extract.extract_raw for the cold indexer: the same definitions query, the same
 * rules, the same tuples (see model.RawOutline), with no Python object per syntax node or query match. It is
 * checked against the Python extractor, which stays the reference and serves open documents. Text rules
 * that are rare per file (doc comment and docstring clean-up, non-Python import text) call back into
 * extract.py, so that each rule is written once.
 *
 * Extractor(language, query_source, language_name, max_start_depth, kinds, method_parents, node_types,
 *           text_imports, clean_comment, docstring_text)
 *     language: the grammar's PyCapsule; kinds: model.KINDS; method_parents: kind codes under which a
 *     function is a method; node_types: the node type names of extract.py's rules, as four tuples of str
 *     (wrappers, attributes, comments, function values); text_imports(capture_name, text, line) -> list of
 *     raw imports; clean_comment(str) -> str; docstring_text(str) -> str.
 * Extractor.extract(source: bytes) -> (language_name, package, definitions, imports)
 * Extractor.match_count(source: bytes, query: bool = True) -> int
 *     Only the parse and (query=True) the query's matches, counted: what the benchmark compares the parse of
 *     this build with (bench/index.py, bench/parser_build.py).
 *
 * One Extractor per thread: its parser is not shared.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "tree_sitter/api.h"

#define MAX_SIGNATURE_BYTES 800 /* 4 x extract._MAX_SIGNATURE */
#define MAX_SIGNATURE 200

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

typedef struct {
    TSNode node, name;
    uint32_t start, end, name_start, seq;
    int kind;
} Found;

/* ---- small helpers ------------------------------------------------------------------------------------- */

static int is_type(TSNode node, const char *type) {
    return !ts_node_is_null(node) && strcmp(ts_node_type(node), type) == 0;
}

static int type_in(TSNode node, const char **types) {
    if (ts_node_is_null(node)) return 0;
    const char *t = ts_node_type(node);
    for (; *types; types++)
        if (strcmp(t, *types) == 0) return 1;
    return 0;
}

static PyObject *decode(const char *source, uint32_t start, uint32_t end) {
    return PyUnicode_DecodeUTF8(source + start, (Py_ssize_t)(end - start), "replace");
}

static PyObject *node_text(const char *source, TSNode node) {
    return decode(source, ts_node_start_byte(node), ts_node_end_byte(node));
}

static TSNode field(TSNode node, TSFieldId id) {
    if (id == 0) {
        TSNode null = {{0, 0, 0, 0}, NULL, NULL};
        return null;
    }
    return ts_node_child_by_field_id(node, id);
}

/* The UTF-16 column of a byte offset whose line starts byte_col bytes earlier. -1 on error. */
static long utf16_col(const char *source, uint32_t offset, uint32_t byte_col) {
    const unsigned char *p = (const unsigned char *)source + offset - byte_col;
    uint32_t i;
    for (i = 0; i < byte_col && p[i] < 0x80; i++) {}
    if (i == byte_col) return (long)byte_col;
    PyObject *text = PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)byte_col, "replace");
    if (text == NULL) return -1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), units = n;
    if (PyUnicode_KIND(text) == PyUnicode_4BYTE_KIND) {
        for (Py_ssize_t j = 0; j < n; j++)
            if (PyUnicode_READ_CHAR(text, j) > 0xFFFF) units++;
    }
    Py_DECREF(text);
    return (long)units;
}

static int is_py_upper(PyObject *name) {
    /* str.isupper(): some cased character, none lowercase */
    if (PyUnicode_IS_ASCII(name)) {
        const char *s = (const char *)PyUnicode_DATA(name);
        int cased = 0;
        for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(name); i++) {
            if (s[i] >= 'a' && s[i] <= 'z') return 0;
            if (s[i] >= 'A' && s[i] <= 'Z') cased = 1;
        }
        return cased;
    }
    PyObject *r = PyObject_CallMethod(name, "isupper", NULL);
    if (r == NULL) return -1;
    int upper = PyObject_IsTrue(r);
    Py_DECREF(r);
    return upper;
}

static int is_byte_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0b' || c == '\x0c';
}

/* The text up to the body (or the end of the first line), whitespace runs collapsed, "{:= " stripped. */
static PyObject *signature(const char *source, uint32_t length, uint32_t start, uint32_t end, TSNode body) {
    int64_t stop;
    if (!ts_node_is_null(body)) {
        stop = ts_node_start_byte(body);
    } else {
        const char *nl = memchr(source + start, '\n', end > start ? end - start : 0);
        stop = nl != NULL ? nl - source : end;
    }
    if (stop > (int64_t)start + MAX_SIGNATURE_BYTES) stop = (int64_t)start + MAX_SIGNATURE_BYTES;
    if (stop > length) stop = length;
    char buffer[MAX_SIGNATURE_BYTES];
    size_t n = 0;
    int pending_space = 0;
    for (int64_t i = start; i < stop; i++) {
        unsigned char c = (unsigned char)source[i];
        if (is_byte_space(c)) {
            pending_space = n > 0;
            continue;
        }
        if (pending_space) buffer[n++] = ' ';
        pending_space = 0;
        buffer[n++] = (char)c;
    }
    while (n > 0 && (buffer[n - 1] == '{' || buffer[n - 1] == ':' || buffer[n - 1] == '=' || buffer[n - 1] == ' '))
        n--;
    PyObject *text = PyUnicode_DecodeUTF8(buffer, (Py_ssize_t)n, "replace");
    if (text != NULL && PyUnicode_GET_LENGTH(text) > MAX_SIGNATURE) {
        PyObject *cut = PyUnicode_Substring(text, 0, MAX_SIGNATURE);
        Py_DECREF(text);
        text = cut;
    }
    return text;
}

/* ---- docs ---------------------------------------------------------------------------------------------- */

static PyObject *python_docstring(Extractor *self, const char *source, TSNode body) {
    if (ts_node_is_null(body) || ts_node_named_child_count(body) == 0) goto none;
    TSNode first = ts_node_named_child(body, 0);
    if (!is_type(first, "expression_statement")) goto none;
    TSNode string = ts_node_named_child(first, 0);
    if (!is_type(string, "string")) goto none;
    PyObject *literal = node_text(source, string);
    if (literal == NULL) return NULL;
    PyObject *doc = PyObject_CallOneArg(self->docstring_text, literal);
    Py_DECREF(literal);
    return doc;
none:
    Py_INCREF(self->empty);
    return self->empty;
}

static PyObject *comment_doc(Extractor *self, const char *source, TSNode node) {
    TSNode anchor = node;
    for (;;) {
        if (!ts_node_is_null(ts_node_prev_named_sibling(anchor))) break;
        TSNode parent = ts_node_parent(anchor);
        if (!type_in(parent, self->types[WRAPPERS].names)) break;
        anchor = parent;
    }
    TSNode prev = ts_node_prev_named_sibling(anchor);
    int64_t row = ts_node_start_point(anchor).row;
    while (type_in(prev, self->types[ATTRIBUTES].names)) {
        row = ts_node_start_point(prev).row;
        prev = ts_node_prev_named_sibling(prev);
    }
    /* comments are collected last to first, then joined first to last */
    TSNode stack_lines[16];
    TSNode *lines = stack_lines;
    size_t count = 0, capacity = 16;
    while (type_in(prev, self->types[COMMENTS].names) && (int64_t)ts_node_end_point(prev).row >= row - 1) {
        uint32_t s = ts_node_start_byte(prev), e = ts_node_end_byte(prev);
        if (e - s >= 3 && (memcmp(source + s, "//!", 3) == 0 || memcmp(source + s, "/*!", 3) == 0)) break;
        if (count == capacity) {
            TSNode *grown = malloc(2 * capacity * sizeof(TSNode));
            if (grown == NULL) {
                if (lines != stack_lines) free(lines);
                return PyErr_NoMemory();
            }
            memcpy(grown, lines, count * sizeof(TSNode));
            if (lines != stack_lines) free(lines);
            lines = grown;
            capacity *= 2;
        }
        lines[count++] = prev;
        row = ts_node_start_point(prev).row;
        prev = ts_node_prev_named_sibling(prev);
    }
    PyObject *doc = NULL;
    if (count == 0) {
        Py_INCREF(self->empty);
        doc = self->empty;
        goto done;
    }
    size_t total = 0;
    for (size_t i = 0; i < count; i++) total += ts_node_end_byte(lines[i]) - ts_node_start_byte(lines[i]) + 1;
    char *joined = malloc(total);
    if (joined == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t n = 0;
    for (size_t i = count; i-- > 0;) {
        uint32_t s = ts_node_start_byte(lines[i]), e = ts_node_end_byte(lines[i]);
        memcpy(joined + n, source + s, e - s);
        n += e - s;
        if (i > 0) joined[n++] = '\n';
    }
    PyObject *text = PyUnicode_DecodeUTF8(joined, (Py_ssize_t)n, "replace");
    free(joined);
    if (text != NULL) {
        doc = PyObject_CallOneArg(self->clean_comment, text);
        Py_DECREF(text);
    }
done:
    if (lines != stack_lines) free(lines);
    return doc;
}

/* ---- imports ------------------------------------------------------------------------------------------- */

/* extract._python_imports */
static int python_imports(Extractor *self, const char *source, TSNode node, PyObject *out) {
    long line = (long)ts_node_start_point(node).row;
    PyObject *names = PyList_New(0);
    if (names == NULL) return -1;
    int wildcard = 0;
    TSTreeCursor cursor = ts_tree_cursor_new(node);
    if (ts_tree_cursor_goto_first_child(&cursor)) {
        do {
            TSNode child = ts_tree_cursor_current_node(&cursor);
            if (is_type(child, "wildcard_import")) wildcard = 1;
            if (ts_tree_cursor_current_field_id(&cursor) != self->f_name || self->f_name == 0) continue;
            TSNode target = child;
            if (is_type(child, "aliased_import")) {
                TSNode inner = field(child, self->f_name);
                if (!ts_node_is_null(inner)) target = inner;
            }
            PyObject *text = node_text(source, target);
            if (text == NULL || PyList_Append(names, text) < 0) {
                Py_XDECREF(text);
                ts_tree_cursor_delete(&cursor);
                Py_DECREF(names);
                return -1;
            }
            Py_DECREF(text);
        } while (ts_tree_cursor_goto_next_sibling(&cursor));
    }
    ts_tree_cursor_delete(&cursor);
    int status = 0;
    if (is_type(node, "import_statement")) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names) && status == 0; i++) {
            PyObject *item = Py_BuildValue("(O()il)", PyList_GET_ITEM(names, i), 0, line);
            status = item != NULL ? PyList_Append(out, item) : -1;
            Py_XDECREF(item);
        }
        Py_DECREF(names);
        return status;
    }
    TSNode module = field(node, self->f_module_name);
    long level = 0;
    PyObject *spec = NULL;
    if (is_type(module, "relative_import")) {
        uint32_t count = ts_node_child_count(module);
        for (uint32_t i = 0; i < count; i++) {
            TSNode child = ts_node_child(module, i);
            if (is_type(child, "import_prefix")) {
                uint32_t s = ts_node_start_byte(child), e = ts_node_end_byte(child);
                while (s < e && isspace((unsigned char)source[s])) s++;
                while (e > s && isspace((unsigned char)source[e - 1])) e--;
                PyObject *prefix = decode(source, s, e);
                if (prefix == NULL) goto fail;
                level = (long)PyUnicode_GET_LENGTH(prefix);
                Py_DECREF(prefix);
            } else if (is_type(child, "dotted_name")) {
                Py_XDECREF(spec);
                spec = node_text(source, child);
                if (spec == NULL) goto fail;
            }
        }
    } else if (!ts_node_is_null(module)) {
        spec = node_text(source, module);
        if (spec == NULL) goto fail;
    }
    if (spec == NULL) {
        spec = self->empty;
        Py_INCREF(spec);
    }
    PyObject *tuple = wildcard ? Py_BuildValue("(s)", "*") : PyList_AsTuple(names);
    if (tuple == NULL) goto fail;
    PyObject *item = Py_BuildValue("(NNil)", spec, tuple, (int)level, line);
    spec = NULL;
    status = item != NULL ? PyList_Append(out, item) : -1;
    Py_XDECREF(item);
    Py_DECREF(names);
    return status;
fail:
    Py_XDECREF(spec);
    Py_DECREF(names);
    return -1;
}

static int add_imports(Extractor *self, const char *source, TSNode node, uint32_t capture, PyObject *out) {
    if (self->python) return python_imports(self, source, node, out);
    PyObject *text = node_text(source, node);
    if (text == NULL) return -1;
    PyObject *found = PyObject_CallFunction(self->text_imports, "OOl", self->capture_names[capture], text,
                                            (long)ts_node_start_point(node).row);
    Py_DECREF(text);
    if (found == NULL) return -1;
    PyObject *iter = PyObject_GetIter(found);
    Py_DECREF(found);
    if (iter == NULL) return -1;
    PyObject *item;
    while ((item = PyIter_Next(iter)) != NULL) {
        int status = PyList_Append(out, item);
        Py_DECREF(item);
        if (status < 0) break;
    }
    Py_DECREF(iter);
    return PyErr_Occurred() ? -1 : 0;
}

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

static int by_name_then_seq(const void *x, const void *y) {
    const Found *a = x, *b = y;
    if (a->name_start != b->name_start) return a->name_start < b->name_start ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int by_position(const void *x, const void *y) {
    const Found *a = x, *b = y;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    if (a->end != b->end) return a->end > b->end ? -1 : 1; /* outer first */
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* ---- definitions ---------------------------------------------------------------------------------------- */

static int refine(Extractor *self, int kind, TSNode node, PyObject *name, int parent_kind) {
    if (kind == self->k_function && parent_kind >= 0 && (self->method_parents >> parent_kind & 1u))
        return self->k_method;
    if (kind == self->k_variable) {
        if (type_in(field(node, self->f_value), self->types[FUNCTION_VALUES].names)) return self->k_function;
        if (self->python) {
            int upper = is_py_upper(name);
            if (upper < 0) return -1;
            if (upper) return self->k_constant;
        }
    }
    if (kind == self->k_type && self->go) {
        TSNode inner = field(node, self->f_type);
        if (is_type(inner, "struct_type")) return self->k_struct;
        if (is_type(inner, "interface_type")) return self->k_interface;
    }
    return kind;
}

static PyObject *definitions(Extractor *self, const char *source, uint32_t length, Found *found, size_t n) {
    if (n > 1) {
        qsort(found, n, sizeof(Found), by_name_then_seq);
        size_t unique = 1;
        for (size_t i = 1; i < n; i++)
            if (found[i].name_start != found[unique - 1].name_start) found[unique++] = found[i];
        n = unique;
        qsort(found, n, sizeof(Found), by_position);
    }
    int ascii = 1;
    for (uint32_t i = 0; i < length; i++)
        if ((unsigned char)source[i] >= 0x80) { ascii = 0; break; }
    PyObject *out = PyList_New((Py_ssize_t)n);
    int *kinds = malloc((n ? n : 1) * sizeof(int));
    size_t *stack = malloc((n ? n : 1) * sizeof(size_t));
    if (out == NULL || kinds == NULL || stack == NULL) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto fail;
    }
    size_t depth = 0;
    for (size_t i = 0; i < n; i++) {
        Found *f = &found[i];
        while (depth > 0 && found[stack[depth - 1]].end <= f->start) depth--;
        long parent = depth > 0 ? (long)stack[depth - 1] : -1;
        uint32_t name_end = ts_node_end_byte(f->name);
        PyObject *name = decode(source, f->name_start, name_end);
        if (name == NULL) goto fail;
        int kind = f->kind;
        if (kind == self->k_function || kind == self->k_variable || kind == self->k_type) {
            kind = refine(self, kind, f->node, name, parent >= 0 ? kinds[parent] : -1);
            if (kind < 0) { Py_DECREF(name); goto fail; }
        }
        kinds[i] = kind;
        TSNode body = field(f->node, self->f_body);
        PyObject *doc = self->python ? python_docstring(self, source, body) : comment_doc(self, source, f->node);
        PyObject *sig = doc != NULL ? signature(source, length, f->start, f->end, body) : NULL;
        if (sig == NULL) { Py_DECREF(name); Py_XDECREF(doc); goto fail; }
        TSPoint s = ts_node_start_point(f->node), e = ts_node_end_point(f->node);
        TSPoint ns = ts_node_start_point(f->name), ne = ts_node_end_point(f->name);
        long sc = s.column, ec = e.column, nsc = ns.column, nec = ne.column;
        if (!ascii) {
            sc = utf16_col(source, f->start, s.column);
            ec = utf16_col(source, f->end, e.column);
            nsc = utf16_col(source, f->name_start, ns.column);
            nec = utf16_col(source, name_end, ne.column);
            if (sc < 0 || ec < 0 || nsc < 0 || nec < 0) { Py_DECREF(name); Py_DECREF(doc); Py_DECREF(sig); goto fail; }
        }
        PyObject *item = Py_BuildValue("(NillllllllNNl)", name, kind, (long)s.row, sc, (long)e.row, ec,
                                       (long)ns.row, nsc, (long)ne.row, nec, sig, doc, parent);
        if (item == NULL) goto fail;
        PyList_SET_ITEM(out, (Py_ssize_t)i, item);
        stack[depth++] = i;
    }
    free(kinds);
    free(stack);
    return out;
fail:
    free(kinds);
    free(stack);
    Py_XDECREF(out);
    return NULL;
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
                if (add_imports(self, source, node, capture, imports) < 0) goto done;
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
    defs = definitions(self, source, length, found, count);
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

static int parse_predicates(Extractor *self) {
    uint32_t patterns = ts_query_pattern_count(self->query), total = 0;
    for (uint32_t p = 0; p < patterns; p++) {
        uint32_t steps;
        ts_query_predicates_for_pattern(self->query, p, &steps);
        total += steps;
    }
    self->predicates = calloc(total ? total : 1, sizeof(Predicate));
    if (self->predicates == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint32_t p = 0; p < patterns; p++) {
        uint32_t steps;
        const TSQueryPredicateStep *step = ts_query_predicates_for_pattern(self->query, p, &steps);
        for (uint32_t i = 0; i < steps;) {
            uint32_t end = i;
            while (end < steps && step[end].type != TSQueryPredicateStepTypeDone) end++;
            uint32_t len;
            const char *op = step[i].type == TSQueryPredicateStepTypeString
                ? ts_query_string_value_for_id(self->query, step[i].value_id, &len) : "";
            int negate = strcmp(op, "not-eq?") == 0;
            if ((strcmp(op, "eq?") != 0 && !negate) || end - i != 3
                    || step[i + 1].type != TSQueryPredicateStepTypeCapture) {
                PyErr_Format(PyExc_ValueError, "unsupported query predicate #%s", op);
                return -1;
            }
            Predicate *pred = &self->predicates[self->num_predicates++];
            pred->pattern = (uint16_t)p;
            pred->negate = (uint8_t)negate;
            pred->capture = step[i + 1].value_id;
            if (step[i + 2].type == TSQueryPredicateStepTypeCapture) {
                pred->kind = PRED_EQ_CAPTURE;
                pred->other = step[i + 2].value_id;
            } else {
                pred->kind = PRED_EQ_STRING;
                pred->string = ts_query_string_value_for_id(self->query, step[i + 2].value_id, &pred->length);
            }
            i = end + 1;
        }
    }
    return 0;
}

static int type_set(TypeSet *set, PyObject *names) {
    if (!PyTuple_Check(names)) {
        PyErr_SetString(PyExc_TypeError, "a node type set must be a tuple of str");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    set->names = PyMem_Calloc((size_t)n + 1, sizeof(const char *));
    if (set->names == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(names);
    set->names_tuple = names;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        set->names[i] = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
        if (set->names[i] == NULL) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "a node type set must be a tuple of str");
            return -1;
        }
    }
    return 0;
}

static int kind_code(PyObject *kinds, const char *name, Py_ssize_t length) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kinds); i++) {
        Py_ssize_t n;
        const char *k = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(kinds, i), &n);
        if (k != NULL && n == length && memcmp(k, name, (size_t)n) == 0) return (int)i;
    }
    return -1;
}

static TSFieldId field_id(const TSLanguage *language, const char *name) {
    return ts_language_field_id_for_name(language, name, (uint32_t)strlen(name));
}

static int Extractor_init(Extractor *self, PyObject *args, PyObject *kwargs) {
    PyObject *capsule, *kinds, *method_parents, *node_types;
    const char *query_source;
    Py_ssize_t query_length;
    unsigned int max_start_depth;
    static char *keywords[] = {"language", "query_source", "language_name", "max_start_depth", "kinds",
                               "method_parents", "node_types", "text_imports", "clean_comment",
                               "docstring_text", NULL};
    if (self->parser != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Extractor is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Oy#UIO!O!O!OOO", keywords, &capsule, &query_source,
                                     &query_length, &self->name, &max_start_depth, &PyTuple_Type, &kinds,
                                     &PyTuple_Type, &method_parents, &PyTuple_Type, &node_types,
                                     &self->text_imports, &self->clean_comment, &self->docstring_text))
        return -1;
    Py_INCREF(self->name);
    Py_INCREF(self->text_imports);
    Py_INCREF(self->clean_comment);
    Py_INCREF(self->docstring_text);
    Py_INCREF(capsule);
    self->language_capsule = capsule;
    self->empty = PyUnicode_FromString("");
    if (self->empty == NULL) return -1;
    if (PyTuple_GET_SIZE(node_types) != NUM_TYPE_SETS) {
        PyErr_SetString(PyExc_ValueError, "node_types: (wrappers, attributes, comments, function values)");
        return -1;
    }
    for (int i = 0; i < NUM_TYPE_SETS; i++)
        if (type_set(&self->types[i], PyTuple_GET_ITEM(node_types, i)) < 0) return -1;
    const TSLanguage *language = PyCapsule_GetPointer(capsule, "tree_sitter.Language");
    if (language == NULL) return -1;
    self->parser = ts_parser_new();
    if (!ts_parser_set_language(self->parser, language)) {
        PyErr_SetString(PyExc_ValueError, "grammar version not supported by this tree-sitter runtime");
        return -1;
    }
    uint32_t error_offset;
    TSQueryError error;
    self->query = ts_query_new(language, query_source, (uint32_t)query_length, &error_offset, &error);
    if (self->query == NULL) {
        PyErr_Format(PyExc_ValueError, "invalid query (error %d at byte %u)", (int)error, error_offset);
        return -1;
    }
    uint32_t captures = ts_query_capture_count(self->query);
    self->roles = calloc(captures ? captures : 1, 1);
    self->capture_kinds = calloc(captures ? captures : 1, 1);
    self->capture_names = calloc(captures ? captures : 1, sizeof(PyObject *));
    if (self->roles == NULL || self->capture_kinds == NULL || self->capture_names == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint32_t i = 0; i < captures; i++) {
        uint32_t len;
        const char *name = ts_query_capture_name_for_id(self->query, i, &len);
        self->capture_names[i] = PyUnicode_FromStringAndSize(name, len);
        if (self->capture_names[i] == NULL) return -1;
        if (len == 4 && memcmp(name, "name", 4) == 0) {
            self->roles[i] = ROLE_NAME;
        } else if (len > 11 && memcmp(name, "definition.", 11) == 0) {
            int code = kind_code(kinds, name + 11, len - 11);
            if (code < 0) {
                PyErr_Format(PyExc_ValueError, "unknown definition kind in capture @%s", name);
                return -1;
            }
            self->roles[i] = ROLE_DEFINITION;
            self->capture_kinds[i] = (int8_t)code;
        } else if ((len == 6 && memcmp(name, "import", 6) == 0) || (len > 7 && memcmp(name, "import.", 7) == 0)) {
            self->roles[i] = ROLE_IMPORT;
        } else if (len == 7 && memcmp(name, "package", 7) == 0) {
            self->roles[i] = ROLE_PACKAGE;
        }
    }
    if (parse_predicates(self) < 0) return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(method_parents); i++) {
        long code = PyLong_AsLong(PyTuple_GET_ITEM(method_parents, i));
        if (code < 0 || code >= 32) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "kind code out of range");
            return -1;
        }
        self->method_parents |= 1u << code;
    }
    self->max_start_depth = max_start_depth;
    const char *lang = PyUnicode_AsUTF8(self->name);
    if (lang == NULL) return -1;
    self->python = strcmp(lang, "python") == 0;
    self->go = strcmp(lang, "go") == 0;
    self->k_function = kind_code(kinds, "function", 8);
    self->k_method = kind_code(kinds, "method", 6);
    self->k_variable = kind_code(kinds, "variable", 8);
    self->k_constant = kind_code(kinds, "constant", 8);
    self->k_type = kind_code(kinds, "type", 4);
    self->k_struct = kind_code(kinds, "struct", 6);
    self->k_interface = kind_code(kinds, "interface", 9);
    if (self->k_function < 0 || self->k_method < 0 || self->k_variable < 0 || self->k_constant < 0
            || self->k_type < 0 || self->k_struct < 0 || self->k_interface < 0) {
        PyErr_SetString(PyExc_ValueError, "kinds lacks a kind the rules need");
        return -1;
    }
    self->f_body = field_id(language, "body");
    self->f_value = field_id(language, "value");
    self->f_type = field_id(language, "type");
    self->f_name = field_id(language, "name");
    self->f_module_name = field_id(language, "module_name");
    return 0;
}

static void Extractor_dealloc(Extractor *self) {
    if (self->capture_names != NULL) {
        uint32_t captures = self->query != NULL ? ts_query_capture_count(self->query) : 0;
        for (uint32_t i = 0; i < captures; i++) Py_XDECREF(self->capture_names[i]);
        free(self->capture_names);
    }
    free(self->roles);
    free(self->capture_kinds);
    free(self->predicates);
    for (int i = 0; i < NUM_TYPE_SETS; i++) {
        PyMem_Free(self->types[i].names);
        Py_XDECREF(self->types[i].names_tuple);
    }
    if (self->query != NULL) ts_query_delete(self->query);
    if (self->parser != NULL) ts_parser_delete(self->parser);
    Py_XDECREF(self->language_capsule);
    Py_XDECREF(self->name);
    Py_XDECREF(self->text_imports);
    Py_XDECREF(self->clean_comment);
    Py_XDECREF(self->docstring_text);
    Py_XDECREF(self->empty);
    Py_TYPE(self)->tp_free((PyObject *)self);
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
    .tp_init = (initproc)Extractor_init,
    .tp_dealloc = (destructor)Extractor_dealloc,
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
