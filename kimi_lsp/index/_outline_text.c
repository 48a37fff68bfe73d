/* _outline: the docs and imports of the C extractor, the twins of outline_rules.py's.
 *
 * Owns finding a definition's doc (the Python docstring, or the comment block right above it, through wrapper
 * and attribute nodes) and reading an import capture (Python's import nodes; other languages' text). The rules
 * on text alone - cleaning a doc comment or a docstring, the specs in a non-Python import - are not written
 * here: they are called back in outline_rules.py (clean_comment, docstring_text, text_imports), once per doc
 * or import. Must not order definitions or run the query (_outline_defs.c, _outline.c).
 */
#include "_outline.h"

#include <ctype.h>
#include <stdlib.h>

/* ---- docs ----------------------------------------------------------------------------------------------- */

PyObject *outline_python_docstring(Extractor *self, const char *source, TSNode body) {
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

PyObject *outline_comment_doc(Extractor *self, const char *source, TSNode node) {
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

/* ---- imports -------------------------------------------------------------------------------------------- */

/* outline_rules._python_imports */
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

int outline_add_imports(Extractor *self, const char *source, TSNode node, uint32_t capture, PyObject *out) {
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
