/* kimi_lsp.index._symtab: the sort behind a symbol-table base, in C.
 *
 * build(names, fids, lines, colkinds, fold) -> (text, offsets, fids, lines, colkinds)
 *     names: str sequence; fids, lines, colkinds: int sequences of the same length; fold: symtable.fold, called
 *     for non-ASCII names only (ASCII ones are lowercased here). Sorts by (fold(name), name), equal pairs in
 *     input order - what symtable._build_columns does in Python - and returns the '\n'-terminated names as one
 *     str, then the start offset of each name (plus the end) and the three int columns in that order, each as
 *     bytes of native uint32. The sort itself runs without the GIL (the compaction thread lets the loop run).
 * merge(text, folded, offsets, fids, lines, colkinds, keep, names, fids, lines, colkinds, fold) -> the same
 *     A base (its ASCII names and folded names as str, the four uint32 columns as buffers) folded with new
 *     entries: the base's entries whose `keep` byte is non-zero (keep: bytes, or None for all), then the new
 *     ones, in the order build() would give that concatenation. Only the new entries are sorted; the base is
 *     already. For compactions (symtable.build_compacted).
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

static int put_uint32(uint32_t *out, PyObject *value) {
    unsigned long v = PyLong_AsUnsignedLong(value);
    if (v == (unsigned long)-1 && PyErr_Occurred()) return -1;
    if (v > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "symbol table value does not fit 32 bits");
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static PyObject *uint32_column(PyObject *column, const Entry *entries, Py_ssize_t n) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(uint32_t));
    if (out == NULL) return NULL;
    uint32_t *data = (uint32_t *)PyBytes_AS_STRING(out);
    PyObject **items = PySequence_Fast_ITEMS(column);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (put_uint32(&data[i], items[entries[i].index]) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

/* The sort entries of n names: each name's UTF-8 and its folded form (ASCII lowered into *lowered, others
 * through fold(), kept alive in `keep`). Returns 0, or -1 with an exception set. */
static int prepare(PyObject **items, Py_ssize_t n, PyObject *fold, PyObject *keep, Entry **entries_out,
                   char **lowered_out) {
    Py_ssize_t ascii_bytes = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyUnicode_Check(items[i])) {
            PyErr_SetString(PyExc_TypeError, "names must be str");
            return -1;
        }
        if (PyUnicode_IS_ASCII(items[i])) ascii_bytes += PyUnicode_GET_LENGTH(items[i]);
    }
    Entry *entries = *entries_out = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Entry));
    char *cursor = *lowered_out = PyMem_Malloc((size_t)(ascii_bytes ? ascii_bytes : 1));
    if (entries == NULL || cursor == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Entry *e = &entries[i];
        e->index = i;
        e->name = PyUnicode_AsUTF8AndSize(items[i], &e->name_len);
        if (e->name == NULL) return -1;
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
                return -1;
            }
            Py_DECREF(folded);
            e->folded = PyUnicode_AsUTF8AndSize(folded, &e->folded_len);
            if (e->folded == NULL) return -1;
        }
    }
    return 0;
}

/* Columns of names and values, taken and sorted by (folded name, name, position): what build() and merge()
 * both start from. sort_columns() fills it (0, or -1 with an exception set); release_columns() frees it, either
 * way. */
typedef struct {
    PyObject *names, *fids, *lines, *colkinds; /* names: our own tuple (the sort runs without the GIL, on its
                                                * strings); the others: fast sequences */
    PyObject *folded;                          /* folded forms of non-ASCII names, alive as long as the entries */
    Entry *entries;                            /* sorted */
    char *lowered;
    Py_ssize_t n;
} Columns;

static int sort_columns(Columns *c, PyObject *names, PyObject *fids, PyObject *lines, PyObject *colkinds,
                        PyObject *fold) {
    c->names = PySequence_Tuple(names);
    c->fids = c->names ? PySequence_Fast(fids, "fids must be a sequence") : NULL;
    c->lines = c->fids ? PySequence_Fast(lines, "lines must be a sequence") : NULL;
    c->colkinds = c->lines ? PySequence_Fast(colkinds, "colkinds must be a sequence") : NULL;
    if (c->colkinds == NULL) return -1;
    c->n = PySequence_Fast_GET_SIZE(c->names);
    if (PySequence_Fast_GET_SIZE(c->fids) != c->n || PySequence_Fast_GET_SIZE(c->lines) != c->n
            || PySequence_Fast_GET_SIZE(c->colkinds) != c->n) {
        PyErr_SetString(PyExc_ValueError, "columns differ in length");
        return -1;
    }
    c->folded = PyList_New(0);
    if (c->folded == NULL
            || prepare(PySequence_Fast_ITEMS(c->names), c->n, fold, c->folded, &c->entries, &c->lowered) < 0) {
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS /* the entries point into strings that `names` and `folded` hold; nothing else */
    qsort(c->entries, (size_t)c->n, sizeof(Entry), by_key);
    Py_END_ALLOW_THREADS
    return 0;
}

static void release_columns(Columns *c) {
    PyMem_Free(c->entries);
    PyMem_Free(c->lowered);
    Py_XDECREF(c->folded);
    Py_XDECREF(c->names);
    Py_XDECREF(c->fids);
    Py_XDECREF(c->lines);
    Py_XDECREF(c->colkinds);
}

static PyObject *build(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *names_arg, *fids_arg, *lines_arg, *colkinds_arg, *fold;
    if (!PyArg_ParseTuple(args, "OOOOO", &names_arg, &fids_arg, &lines_arg, &colkinds_arg, &fold)) return NULL;
    PyObject *sorted = NULL, *text = NULL, *offsets = NULL, *result = NULL;
    Columns c = {0};
    if (sort_columns(&c, names_arg, fids_arg, lines_arg, colkinds_arg, fold) < 0) goto done;
    Py_ssize_t n = c.n;
    const Entry *entries = c.entries;
    PyObject **items = PySequence_Fast_ITEMS(c.names);

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
    PyObject *fid_bytes = uint32_column(c.fids, entries, n);
    PyObject *line_bytes = fid_bytes ? uint32_column(c.lines, entries, n) : NULL;
    PyObject *colkind_bytes = line_bytes ? uint32_column(c.colkinds, entries, n) : NULL;
    if (colkind_bytes != NULL) {
        result = PyTuple_Pack(5, text, offsets, fid_bytes, line_bytes, colkind_bytes);
    }
    Py_XDECREF(fid_bytes);
    Py_XDECREF(line_bytes);
    Py_XDECREF(colkind_bytes);
done:
    release_columns(&c);
    Py_XDECREF(sorted);
    Py_XDECREF(text);
    Py_XDECREF(offsets);
    return result;
}

static PyObject *uint32_bytes(Py_ssize_t n, uint32_t **data) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(uint32_t));
    if (out != NULL) *data = (uint32_t *)PyBytes_AS_STRING(out);
    return out;
}

static PyObject *merge(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *base_text, *base_folded, *keep_arg, *names_arg, *fids_arg, *lines_arg, *colkinds_arg, *fold;
    Py_buffer offs = {0}, bfids = {0}, blines = {0}, bcolkinds = {0}, keep = {0};
    if (!PyArg_ParseTuple(args, "UUy*y*y*y*OOOOOO", &base_text, &base_folded, &offs, &bfids, &blines, &bcolkinds,
                          &keep_arg, &names_arg, &fids_arg, &lines_arg, &colkinds_arg, &fold)) return NULL;
    PyObject *result = NULL, *text = NULL, *offsets = NULL, *out_fids = NULL, *out_lines = NULL;
    PyObject *out_colkinds = NULL;
    Columns c = {0};
    char *utf8 = NULL;
    Py_ssize_t bn = bfids.len / (Py_ssize_t)sizeof(uint32_t), text_len, folded_len;
    const char *btext = PyUnicode_AsUTF8AndSize(base_text, &text_len);
    const char *bfolded = btext ? PyUnicode_AsUTF8AndSize(base_folded, &folded_len) : NULL;
    if (bfolded == NULL) goto done;
    const uint32_t *off = offs.buf, *bfid = bfids.buf, *bline = blines.buf, *bck = bcolkinds.buf;
    if (!PyUnicode_IS_ASCII(base_text) || !PyUnicode_IS_ASCII(base_folded) || folded_len != text_len
            || offs.len != (bn + 1) * (Py_ssize_t)sizeof(uint32_t) || blines.len != bfids.len
            || bcolkinds.len != bfids.len || off[bn] != (uint32_t)text_len) {
        PyErr_SetString(PyExc_ValueError, "merge() takes an ASCII base and columns of its length");
        goto done;
    }
    if (keep_arg != Py_None) {
        if (PyObject_GetBuffer(keep_arg, &keep, PyBUF_SIMPLE) < 0) goto done;
        if (keep.len != bn) {
            PyErr_SetString(PyExc_ValueError, "keep must have one byte per base entry");
            goto done;
        }
    }
    const unsigned char *kept_mask = keep.buf;

    if (sort_columns(&c, names_arg, fids_arg, lines_arg, colkinds_arg, fold) < 0) goto done;
    Py_ssize_t n = c.n;
    const Entry *entries = c.entries;
    PyObject **items = PySequence_Fast_ITEMS(c.names);

    Py_ssize_t m = n, bytes = 0;
    for (Py_ssize_t i = 0; i < bn; i++) {
        if (kept_mask == NULL || kept_mask[i]) {
            m++;
            bytes += off[i + 1] - off[i]; /* the name and its newline */
        }
    }
    for (Py_ssize_t j = 0; j < n; j++) bytes += entries[j].name_len + 1;
    uint32_t *starts, *ofid, *oline, *ock;
    utf8 = PyMem_Malloc((size_t)(bytes ? bytes : 1));
    offsets = uint32_bytes(m + 1, &starts);
    out_fids = offsets ? uint32_bytes(m, &ofid) : NULL;
    out_lines = out_fids ? uint32_bytes(m, &oline) : NULL;
    out_colkinds = out_lines ? uint32_bytes(m, &ock) : NULL;
    if (utf8 == NULL || out_colkinds == NULL) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    /* both runs are sorted by (folded, name) with ties in input order, and the base came first: on a tie the
     * base entry goes first, so the result is what sorting the concatenation would give */
    char *cursor = utf8;
    uint64_t chars = 0;
    Py_ssize_t i = 0, j = 0, k = 0;
    starts[0] = 0;
    while (kept_mask != NULL && i < bn && !kept_mask[i]) i++;
    while (i < bn || j < n) {
        int take_base = j == n;
        if (i < bn && j < n) {
            const Entry *e = &entries[j];
            Py_ssize_t len = off[i + 1] - off[i] - 1;
            int c = compare_bytes(bfolded + off[i], len, e->folded, e->folded_len);
            if (c == 0) c = compare_bytes(btext + off[i], len, e->name, e->name_len);
            take_base = c <= 0;
        }
        if (take_base) {
            Py_ssize_t len = off[i + 1] - off[i];
            memcpy(cursor, btext + off[i], (size_t)len);
            cursor += len;
            chars += (uint64_t)len;
            ofid[k] = bfid[i];
            oline[k] = bline[i];
            ock[k] = bck[i];
            i++;
            while (kept_mask != NULL && i < bn && !kept_mask[i]) i++;
        } else {
            const Entry *e = &entries[j++];
            memcpy(cursor, e->name, (size_t)e->name_len);
            cursor += e->name_len;
            *cursor++ = '\n';
            chars += (uint64_t)PyUnicode_GET_LENGTH(items[e->index]) + 1;
            if (put_uint32(&ofid[k], PySequence_Fast_GET_ITEM(c.fids, e->index)) < 0
                    || put_uint32(&oline[k], PySequence_Fast_GET_ITEM(c.lines, e->index)) < 0
                    || put_uint32(&ock[k], PySequence_Fast_GET_ITEM(c.colkinds, e->index)) < 0) goto done;
        }
        if (chars > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "symbol names do not fit 32-bit offsets");
            goto done;
        }
        starts[++k] = (uint32_t)chars;
    }
    text = PyUnicode_DecodeUTF8(utf8, bytes, "strict");
    if (text != NULL) result = PyTuple_Pack(5, text, offsets, out_fids, out_lines, out_colkinds);
done:
    PyBuffer_Release(&offs);
    PyBuffer_Release(&bfids);
    PyBuffer_Release(&blines);
    PyBuffer_Release(&bcolkinds);
    if (keep.obj != NULL) PyBuffer_Release(&keep);
    release_columns(&c);
    PyMem_Free(utf8);
    Py_XDECREF(text);
    Py_XDECREF(offsets);
    Py_XDECREF(out_fids);
    Py_XDECREF(out_lines);
    Py_XDECREF(out_colkinds);
    return result;
}

static PyMethodDef methods[] = {
    {"build", build, METH_VARARGS,
     "build(names, fids, lines, colkinds, fold) -> (text, offsets, fids, lines, colkinds): the sorted base"},
    {"merge", merge, METH_VARARGS,
     "merge(text, folded, offsets, fids, lines, colkinds, keep, names, fids, lines, colkinds, fold) -> "
     "(text, offsets, fids, lines, colkinds): an ASCII base's kept entries and new ones, as build would sort them"},
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
