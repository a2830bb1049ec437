/* Choosing an instruction set by name, shared by the engine's C extensions (_kernels.c, _rowops.c): each module
 * keeps its own names and detection, and its set_isa() looks the name up here. */
#ifndef OFFCHAIN_ISA_H
#define OFFCHAIN_ISA_H

#include <Python.h>
#include <string.h>

/* The index of `name` in names[lo..hi] when the CPU runs it (index <= best); else -1 with a ValueError naming the
 * CPU's best set, or the choices ("avx2 or avx512vnni") for an unknown name. */
static int isa_index(const char *name, const char *const *names, int lo, int hi, int best, const char *choices) {
    for (int i = lo; i <= hi; i++) {
        if (strcmp(name, names[i]) == 0) {
            if (i > best) {
                PyErr_Format(PyExc_ValueError, "this CPU does not run %s (best: %s)", name, names[best]);
                return -1;
            }
            return i;
        }
    }
    PyErr_Format(PyExc_ValueError, "unknown ISA %s (%s)", name, choices);
    return -1;
}

/* names[lo..best] (every set this CPU runs from lo up) as a list of str; empty when best < lo. */
static PyObject *isa_list(const char *const *names, int lo, int best) {
    PyObject *list = PyList_New(best >= lo ? best - lo + 1 : 0);
    if (!list) return NULL;
    for (int i = lo; i <= best; i++) {
        PyObject *name = PyUnicode_FromString(names[i]);
        if (!name) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i - lo, name);
    }
    return list;
}

#endif
