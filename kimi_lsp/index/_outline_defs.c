/* _outline: definitions found by the query -> the definition tuples (model.RawDefinition), in C.
 *
 * Owns what outline_rules.definitions does: one definition per name (the first match wins), ordered by position
 * with outer before inner, each with the index of its parent, its kind refined (methods, constants, functions
 * bound to variables, Go structs and interfaces), UTF-16 columns, the signature line and the doc
 * (_outline_text.c). Must not run the query or read captures (_outline.c does).
 */
#include "_outline.h"

#include <stdlib.h>

#define MAX_SIGNATURE_BYTES 800 /* 4 x outline_rules._MAX_SIGNATURE */
#define MAX_SIGNATURE 200

/* ---- columns and signature ------------------------------------------------------------------------------ */

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

/* ---- order ---------------------------------------------------------------------------------------------- */

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

PyObject *outline_definitions(Extractor *self, const char *source, uint32_t length, Found *found, size_t n) {
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
        PyObject *doc = self->python ? outline_python_docstring(self, source, body)
                                    : outline_comment_doc(self, source, f->node);
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
