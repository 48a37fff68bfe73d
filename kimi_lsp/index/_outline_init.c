/* _outline: making and freeing an Extractor (its tp_init and tp_dealloc).
 *
 * Owns reading the constructor's arguments (see _outline.c) into the Extractor: the parser for the grammar,
 * the compiled query, the role of each capture (name, definition.<kind>, import, package), the query's
 * #eq?/#not-eq? predicates (any other predicate is an error: the language then runs in Python), the node type
 * sets, kind codes and field ids the rules use; and freeing all of it. Must not parse or extract.
 */
#include "_outline.h"

#include <stdlib.h>

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

int outline_extractor_init(Extractor *self, PyObject *args, PyObject *kwargs) {
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

void outline_extractor_dealloc(Extractor *self) {
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
