/* kimi_lsp.index._symtab: the sort behind a symbol-table base, in C.
 *
 * build(names, fids, lines, colkinds, fold) -> (text, offsets, fids, lines, colkinds)
 *     names: str sequence; fids, lines, colkinds: int sequences of the same length; fold: symtable.fold, called
 *     for non-ASCII names only (ASCII ones are lowercased here). Sorts by (fold(name), name), equal pairs in
 *     input order - what symtable._build_columns does in Python - and returns the '\n'-terminated names as one
 *     str, then the start offset of each name (plus the end) and the three int columns in that order, each as
 *     bytes of native uint32. The sort itself runs without the GIL (the compaction thread lets the loop run).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *folded, *name;
    Py_ssize_t folded_len, name_len;
    Py_ssize_t index;
} Entry;

static int compare_bytes(const char *a, Py_ssize_t al, const char *b, Py_ssize_t bl) {
    int c = memcmp(a, b, (size_t)(al < bl ? al : bl));
    if (c != 0) return c;
    return al < bl ? -1 : al > bl; /* a prefix sorts first; UTF-8 byte order is code point order */
}

static int by_key(const void *x, const void *y) {
    const Entry *a = x, *b = y;
    int c = compare_bytes(a->folded, a->folded_len, b->folded, b->folded_len);
    if (c == 0) c = compare_bytes(a->name, a->name_len, b->name, b->name_len);
    if (c == 0) c = a->index < b->index ? -1 : a->index > b->index;
    return c;
}

static PyObject *uint32_column(PyObject *column, const Entry *entries, Py_ssize_t n) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(uint32_t));
    if (out == NULL) return NULL;
    uint32_t *data = (uint32_t *)PyBytes_AS_STRING(out);
    PyObject **items = PySequence_Fast_ITEMS(column);
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned long value = PyLong_AsUnsignedLong(items[entries[i].index]);
        if (value == (unsigned long)-1 && PyErr_Occurred()) goto fail;
        if (value > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "symbol table value does not fit 32 bits");
            goto fail;
        }
        data[i] = (uint32_t)value;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyObject *build(PyObject *module, PyObject *args) {
    PyObject *names_arg, *fids_arg, *lines_arg, *colkinds_arg, *fold;
    if (!PyArg_ParseTuple(args, "OOOOO", &names_arg, &fids_arg, &lines_arg, &colkinds_arg, &fold)) return NULL;
    PyObject *names = NULL, *fids = NULL, *lines = NULL, *colkinds = NULL, *keep = NULL, *sorted = NULL;
    PyObject *text = NULL, *offsets = NULL, *result = NULL;
    Entry *entries = NULL;
    char *lowered = NULL;
    names = PySequence_Tuple(names_arg); /* our own tuple: the sort runs without the GIL, on its strings */
    fids = names ? PySequence_Fast(fids_arg, "fids must be a sequence") : NULL;
    lines = fids ? PySequence_Fast(lines_arg, "lines must be a sequence") : NULL;
    colkinds = lines ? PySequence_Fast(colkinds_arg, "colkinds must be a sequence") : NULL;
    if (colkinds == NULL) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(names);
    if (PySequence_Fast_GET_SIZE(fids) != n || PySequence_Fast_GET_SIZE(lines) != n
            || PySequence_Fast_GET_SIZE(colkinds) != n) {
        PyErr_SetString(PyExc_ValueError, "columns differ in length");
        goto done;
    }
    PyObject **items = PySequence_Fast_ITEMS(names);
    Py_ssize_t ascii_bytes = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyUnicode_Check(items[i])) {
            PyErr_SetString(PyExc_TypeError, "names must be str");
            goto done;
        }
        if (PyUnicode_IS_ASCII(items[i])) ascii_bytes += PyUnicode_GET_LENGTH(items[i]);
    }
    entries = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Entry));
    lowered = PyMem_Malloc((size_t)(ascii_bytes ? ascii_bytes : 1));
    keep = PyList_New(0); /* folded forms of non-ASCII names, alive until the sort is done */
    if (entries == NULL || lowered == NULL || keep == NULL) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    char *cursor = lowered;
    for (Py_ssize_t i = 0; i < n; i++) {
        Entry *e = &entries[i];
        e->index = i;
        e->name = PyUnicode_AsUTF8AndSize(items[i], &e->name_len);
        if (e->name == NULL) goto done;
        if (PyUnicode_IS_ASCII(items[i])) {
            for (Py_ssize_t j = 0; j < e->name_len; j++) {
                char c = e->name[j];
                cursor[j] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
            }
            e->folded = cursor;
            e->folded_len = e->name_len;
            cursor += e->name_len;
        } else {
            PyObject *folded = PyObject_CallOneArg(fold, items[i]);
            if (folded == NULL || PyList_Append(keep, folded) < 0) {
                Py_XDECREF(folded);
                goto done;
            }
            Py_DECREF(folded);
            e->folded = PyUnicode_AsUTF8AndSize(folded, &e->folded_len);
            if (e->folded == NULL) goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS /* the entries point into strings that `names` and `keep` hold; nothing else */
    qsort(entries, (size_t)n, sizeof(Entry), by_key);
    Py_END_ALLOW_THREADS

    sorted = PyList_New(n + 1); /* the names in order, then "" so that the join ends with a newline */
    offsets = PyBytes_FromStringAndSize(NULL, (n + 1) * (Py_ssize_t)sizeof(uint32_t));
    if (sorted == NULL || offsets == NULL) goto done;
    uint32_t *starts = (uint32_t *)PyBytes_AS_STRING(offsets);
    uint64_t end = 0;
    starts[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = items[entries[i].index];
        Py_INCREF(name);
        PyList_SET_ITEM(sorted, i, name);
        end += (uint64_t)PyUnicode_GET_LENGTH(name) + 1;
        if (end > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "symbol names do not fit 32-bit offsets");
            goto done;
        }
        starts[i + 1] = (uint32_t)end;
    }
    PyList_SET_ITEM(sorted, n, PyUnicode_FromString(""));
    if (PyList_GET_ITEM(sorted, n) == NULL) goto done;
    PyObject *newline = PyUnicode_FromString("\n");
    if (newline == NULL) goto done;
    text = PyUnicode_Join(newline, sorted);
    Py_DECREF(newline);
    if (text == NULL) goto done;
    PyObject *fid_bytes = uint32_column(fids, entries, n);
    PyObject *line_bytes = fid_bytes ? uint32_column(lines, entries, n) : NULL;
    PyObject *colkind_bytes = line_bytes ? uint32_column(colkinds, entries, n) : NULL;
    if (colkind_bytes != NULL) {
        result = PyTuple_Pack(5, text, offsets, fid_bytes, line_bytes, colkind_bytes);
    }
    Py_XDECREF(fid_bytes);
    Py_XDECREF(line_bytes);
    Py_XDECREF(colkind_bytes);
done:
    PyMem_Free(entries);
    PyMem_Free(lowered);
    Py_XDECREF(keep);
    Py_XDECREF(sorted);
    Py_XDECREF(text);
    Py_XDECREF(offsets);
    Py_XDECREF(names);
    Py_XDECREF(fids);
    Py_XDECREF(lines);
    Py_XDECREF(colkinds);
    return result;
}

static PyMethodDef methods[] = {
    {"build", build, METH_VARARGS,
     "build(names, fids, lines, colkinds, fold) -> (text, offsets, fids, lines, colkinds): the sorted base"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_symtab",
    .m_doc = "The sort behind a symbol-table base, in C (see symtable.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__symtab(void) {
    return PyModule_Create(&module);
}
