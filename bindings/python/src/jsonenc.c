/*
 * JSON encoder for Python values: see jsonenc.h for the contract.
 *
 * The output must match json.dumps(obj, separators=(",", ":")) byte for
 * byte, so every choice below (type test order, escapes, number text,
 * error messages) follows what the json module's C accelerator does; the
 * only deliberate differences are that NaN and infinities are refused
 * (as with allow_nan=False) and that there is no default= hook.
 *
 * Speed matters (handlers' results are encoded on the request path), so:
 * strings are sized in one pass and copied in a second, with a plain
 * memcpy when nothing needs escaping; ints that fit in a long long are
 * formatted here; exact dicts are walked with PyDict_Next; the circular
 * reference check is a linear scan of a small on-stack array, with a set
 * used only for containers nested deeper than that array.
 */
#include "jsonenc.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Thread safety on a free-threaded CPython (3.13t): handlers on several
 * I/O threads may encode the same list or dict while another handler
 * changes it. An exact list or dict is therefore walked inside its
 * critical section (CPython's per-object lock, as 3.14's json does):
 * otherwise an append elsewhere may free the item array being read, and a
 * store elsewhere may drop an item between reading and holding it. A
 * nested container takes its own; CPython suspends the outer ones if one
 * must wait, so there is no lock order to keep. Tuples and str are
 * immutable. With the GIL the macros do nothing (and before 3.13 they do
 * not exist).
 */
#ifndef Py_BEGIN_CRITICAL_SECTION
#define Py_BEGIN_CRITICAL_SECTION(op) {
#define Py_END_CRITICAL_SECTION() }
#endif

/* ---- growable buffer ------------------------------------------------- */

int tpy_buf_reserve(tpy_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->cap - b->len >= extra)
        return 0;
    /* Keep every length representable as Py_ssize_t (bytes objects). */
    if (extra > (size_t)PY_SSIZE_T_MAX - b->len)
        goto nomem;
    need = b->len + extra;
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > (size_t)PY_SSIZE_T_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    /* malloc/realloc, not PyMem_*: the buffer may be written to the
     * socket and freed by a thread that does not hold the GIL. */
    p = realloc(b->ptr, cap);
    if (p == NULL)
        goto nomem;
    b->ptr = p;
    b->cap = cap;
    return 0;

nomem:
    PyErr_NoMemory();
    return -1;
}

void tpy_buf_free(tpy_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
}

/* The common case (room left) inline; growth out of line. */
static inline int buf_need(tpy_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    return tpy_buf_reserve(b, n);
}

static inline int buf_append(tpy_buf *b, const char *s, size_t n)
{
    if (buf_need(b, n) < 0)
        return -1;
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
    return 0;
}

static inline int buf_putc(tpy_buf *b, char c)
{
    if (buf_need(b, 1) < 0)
        return -1;
    b->ptr[b->len++] = c;
    return 0;
}

/* ---- strings --------------------------------------------------------- */

/*
 * Bytes a code point below 256 takes beyond its own one: 0 when copied
 * as is, 1 for the two-character escapes (\" \\ \b \f \n \r \t), 5 for
 * \u00XX (other controls, DEL and everything non-ASCII; json escapes
 * any code point outside ' '..'~').
 */
static const unsigned char escape_extra[256] = {
    5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5, /* 0x00 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50 '\\' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, /* 0x70 DEL */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* 0x80 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* 0x90 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* 0xa0 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* 0xb0 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* 0xc0 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* 0xd0 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* 0xe0 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* 0xf0 */
};

static const char hex_digits[] = "0123456789abcdef";

/* Writes \uXXXX (lowercase hex, like json) for a code unit below 0x10000. */
static inline char *put_u_escape(char *d, Py_UCS4 c)
{
    d[0] = '\\';
    d[1] = 'u';
    d[2] = hex_digits[(c >> 12) & 0xf];
    d[3] = hex_digits[(c >> 8) & 0xf];
    d[4] = hex_digits[(c >> 4) & 0xf];
    d[5] = hex_digits[c & 0xf];
    return d + 6;
}

/* Writes the escaped form of a code point that cannot be copied as is. */
static char *put_escaped(char *d, Py_UCS4 c)
{
    switch (c) {
    case '"':  d[0] = '\\'; d[1] = '"';  return d + 2;
    case '\\': d[0] = '\\'; d[1] = '\\'; return d + 2;
    case '\b': d[0] = '\\'; d[1] = 'b';  return d + 2;
    case '\f': d[0] = '\\'; d[1] = 'f';  return d + 2;
    case '\n': d[0] = '\\'; d[1] = 'n';  return d + 2;
    case '\r': d[0] = '\\'; d[1] = 'r';  return d + 2;
    case '\t': d[0] = '\\'; d[1] = 't';  return d + 2;
    default:
        break;
    }
    if (c >= 0x10000) {
        /* Astral: a UTF-16 surrogate pair, as json writes it. */
        c -= 0x10000;
        d = put_u_escape(d, 0xd800 | (c >> 10));
        return put_u_escape(d, 0xdc00 | (c & 0x3ff));
    }
    /* Lone surrogates in a str land here too and come out as \udXXX. */
    return put_u_escape(d, c);
}

static inline size_t char_extra(Py_UCS4 c)
{
    if (c < 256)
        return escape_extra[c];
    return c < 0x10000 ? 5 : 11;
}

/*
 * One loop per string kind, so that each is compiled for its own code
 * unit width. The first pass counts escape bytes so the buffer grows
 * once, to the exact size; the second copies, or memcpys if nothing
 * needs escaping.
 */
#define TPY_COUNT_EXTRA(T, data, n, extra)                                   \
    do {                                                                     \
        const T *p_ = (const T *)(data);                                     \
        for (Py_ssize_t i_ = 0; i_ < (n); i_++)                              \
            (extra) += char_extra(p_[i_]);                                   \
    } while (0)

#define TPY_WRITE_ESCAPED(T, data, n, d)                                     \
    do {                                                                     \
        const T *p_ = (const T *)(data);                                     \
        for (Py_ssize_t i_ = 0; i_ < (n); i_++) {                            \
            Py_UCS4 c_ = p_[i_];                                             \
            if (c_ < 128 && escape_extra[c_] == 0)                           \
                *(d)++ = (char)c_;                                           \
            else                                                             \
                (d) = put_escaped((d), c_);                                  \
        }                                                                    \
    } while (0)

static int write_str(tpy_buf *b, PyObject *s)
{
    Py_ssize_t n;
    int kind;
    const void *data;
    size_t extra = 0;
    char *d;

#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s) < 0)
        return -1;
#endif
    n = PyUnicode_GET_LENGTH(s);
    kind = PyUnicode_KIND(s);
    data = PyUnicode_DATA(s);

    if (kind == PyUnicode_1BYTE_KIND) {
        const unsigned char *p = data;
        for (Py_ssize_t i = 0; i < n; i++)
            extra += escape_extra[p[i]];
    } else if (kind == PyUnicode_2BYTE_KIND) {
        TPY_COUNT_EXTRA(Py_UCS2, data, n, extra);
    } else {
        TPY_COUNT_EXTRA(Py_UCS4, data, n, extra);
    }

    if (buf_need(b, (size_t)n + extra + 2) < 0)
        return -1;
    d = b->ptr + b->len;
    *d++ = '"';
    if (extra == 0 && kind == PyUnicode_1BYTE_KIND) {
        /* No escape needed implies pure printable ASCII. */
        memcpy(d, data, (size_t)n);
        d += n;
    } else if (kind == PyUnicode_1BYTE_KIND) {
        TPY_WRITE_ESCAPED(Py_UCS1, data, n, d);
    } else if (kind == PyUnicode_2BYTE_KIND) {
        TPY_WRITE_ESCAPED(Py_UCS2, data, n, d);
    } else {
        TPY_WRITE_ESCAPED(Py_UCS4, data, n, d);
    }
    *d++ = '"';
    b->len = (size_t)(d - b->ptr);
    return 0;
}

/* ---- numbers --------------------------------------------------------- */

/* Appends text, in double quotes when it is a dict key. */
static int write_number_text(tpy_buf *b, const char *s, size_t n, int quoted)
{
    char *d;

    if (buf_need(b, n + 2) < 0)
        return -1;
    d = b->ptr + b->len;
    if (quoted)
        *d++ = '"';
    memcpy(d, s, n);
    d += n;
    if (quoted)
        *d++ = '"';
    b->len = (size_t)(d - b->ptr);
    return 0;
}

/*
 * An int, or int subclass (IntEnum...), as int.__repr__ writes its value:
 * no user __repr__ is called, like json.
 */
static int write_int(tpy_buf *b, PyObject *o, int quoted)
{
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);

    if (overflow == 0) {
        char tmp[24];
        char *end = tmp + sizeof tmp, *p = end;
        unsigned long long u;

        if (v == -1 && PyErr_Occurred())
            return -1;
        u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u != 0);
        if (v < 0)
            *--p = '-';
        return write_number_text(b, p, (size_t)(end - p), quoted);
    }

    /* Too big for a long long: let int's own repr do the base conversion
     * (this also enforces sys.set_int_max_str_digits like json does). */
    PyObject *text = PyLong_Type.tp_repr(o);
    Py_ssize_t n;
    const char *s;
    int rc;

    if (text == NULL)
        return -1;
    s = PyUnicode_AsUTF8AndSize(text, &n);
    rc = s == NULL ? -1 : write_number_text(b, s, (size_t)n, quoted);
    Py_DECREF(text);
    return rc;
}

/* A float, or float subclass, as float.__repr__ writes it. */
static int write_float(tpy_buf *b, PyObject *o, int quoted)
{
    double v = PyFloat_AS_DOUBLE(o);
    char *s;
    int rc;

    if (!isfinite(v)) {
        PyErr_SetString(PyExc_ValueError,
                        "Out of range float values are not JSON compliant");
        return -1;
    }
    s = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (s == NULL)
        return -1;
    rc = write_number_text(b, s, strlen(s), quoted);
    PyMem_Free(s);
    return rc;
}

/* ---- containers ------------------------------------------------------ */

/* Containers nested up to this deep are tracked on the C stack. */
#define TPY_JSON_MARK_SLOTS 32

typedef struct encoder {
    tpy_buf *out;
    /* Containers being encoded, outermost first, for the circular
     * reference check; past TPY_JSON_MARK_SLOTS their ids go in a set. */
    Py_ssize_t depth;
    PyObject *deep_ids;
    /* Called with a value of no JSON type (NULL: refused, as json.dumps
     * does); what it returns is encoded in its place. */
    PyObject *fallback;
    PyObject *marks[TPY_JSON_MARK_SLOTS];
} encoder;

/* Set once at import (turbo/_encode.py), before any route can run, and
 * never replaced: encoders on I/O threads read it without a lock and hold
 * it borrowed for a whole encode, which is safe only because it lives as
 * long as the module and its value never changes after handlers start
 * (the import that sets it happens-before any server thread exists). */
static PyObject *response_fallback;

int tpy_json_set_fallback(PyObject *func)
{
    if (response_fallback != NULL)
        return -1;
    response_fallback = Py_NewRef(func);
    return 0;
}

static int encode_obj(encoder *e, PyObject *o);

/* Records o as being encoded; ValueError if it already is. */
static int mark_enter(encoder *e, PyObject *o)
{
    Py_ssize_t shallow = e->depth < TPY_JSON_MARK_SLOTS
                             ? e->depth : TPY_JSON_MARK_SLOTS;

    for (Py_ssize_t i = 0; i < shallow; i++) {
        if (e->marks[i] == o)
            goto circular;
    }
    if (e->depth < TPY_JSON_MARK_SLOTS) {
        e->marks[e->depth++] = o;
        return 0;
    }

    PyObject *id = PyLong_FromVoidPtr(o);
    int rc;

    if (id == NULL)
        return -1;
    if (e->deep_ids == NULL) {
        e->deep_ids = PySet_New(NULL);
        if (e->deep_ids == NULL) {
            Py_DECREF(id);
            return -1;
        }
    }
    rc = PySet_Contains(e->deep_ids, id);
    if (rc == 0)
        rc = PySet_Add(e->deep_ids, id);
    else if (rc > 0)
        PyErr_SetString(PyExc_ValueError, "Circular reference detected");
    Py_DECREF(id);
    if (rc != 0)
        return -1;
    e->depth++;
    return 0;

circular:
    PyErr_SetString(PyExc_ValueError, "Circular reference detected");
    return -1;
}

/*
 * Undoes mark_enter once o is fully written. Not called on errors: the
 * whole encode is abandoned then, and the set is dropped with it.
 */
static int mark_leave(encoder *e, PyObject *o)
{
    e->depth--;
    if (e->depth < TPY_JSON_MARK_SLOTS)
        return 0;

    PyObject *id = PyLong_FromVoidPtr(o);
    int rc;

    if (id == NULL)
        return -1;
    rc = PySet_Discard(e->deep_ids, id);
    Py_DECREF(id);
    return rc < 0 ? -1 : 0;
}

/*
 * The items of a list or tuple, comma-separated. The size is re-read
 * every time: encoding an item can run user code (a subclass's items() or
 * __iter__) that shrinks this list. The item is held for the same reason.
 */
static int encode_items(encoder *e, PyObject *items, int is_list)
{
#define TPY_SEQ_SIZE(s) (is_list ? PyList_GET_SIZE(s) : PyTuple_GET_SIZE(s))
    for (Py_ssize_t i = 0; i < TPY_SEQ_SIZE(items); i++) {
        PyObject *item = is_list ? PyList_GET_ITEM(items, i)
                                 : PyTuple_GET_ITEM(items, i);
        int item_rc;

        if (i > 0 && buf_putc(e->out, ',') < 0)
            return -1;
        Py_INCREF(item);
        item_rc = encode_obj(e, item);
        Py_DECREF(item);
        if (item_rc < 0)
            return -1;
    }
#undef TPY_SEQ_SIZE
    return 0;
}

/*
 * A list or tuple. Exact ones are read in place (a list in its critical
 * section); a subclass is first turned into a list through its __iter__,
 * as json does.
 */
static int encode_sequence(encoder *e, PyObject *seq)
{
    tpy_buf *b = e->out;
    PyObject *items;
    int is_list, empty, rc = -1;

    if (PyList_CheckExact(seq) || PyTuple_CheckExact(seq)) {
        items = seq;
        Py_INCREF(items);
    } else {
        items = PySequence_List(seq);
        if (items == NULL)
            return -1;
    }
    is_list = PyList_Check(items);

    empty = is_list ? PyList_GET_SIZE(items) == 0 : PyTuple_GET_SIZE(items) == 0;
    if (empty) {
        rc = buf_append(b, "[]", 2);
        goto done;
    }
    if (mark_enter(e, seq) < 0 || buf_putc(b, '[') < 0)
        goto done;
    if (is_list) {
        Py_BEGIN_CRITICAL_SECTION(items);
        rc = encode_items(e, items, 1);
        Py_END_CRITICAL_SECTION();
    } else {
        rc = encode_items(e, items, 0);
    }
    if (rc < 0)
        goto done;
    rc = -1;
    if (buf_putc(b, ']') < 0)
        goto done;
    rc = mark_leave(e, seq);

done:
    Py_DECREF(items);
    return rc;
}

/* Writes a non-str key the way json does; with a fallback (a response),
 * a key of a type json refuses first becomes its JSON form, as FastAPI's
 * jsonable_encoder converts keys (a UUID or date its text, an Enum its
 * value). */
static int write_key(encoder *e, PyObject *key)
{
    tpy_buf *b = e->out;
    int rc;

    if (PyUnicode_Check(key))
        rc = write_str(b, key);
    else if (PyFloat_Check(key))
        rc = write_float(b, key, 1);
    else if (key == Py_True)
        rc = buf_append(b, "\"true\"", 6);
    else if (key == Py_False)
        rc = buf_append(b, "\"false\"", 7);
    else if (key == Py_None)
        rc = buf_append(b, "\"null\"", 6);
    else if (PyLong_Check(key))
        rc = write_int(b, key, 1);
    else if (e->fallback != NULL) {
        PyObject *k = PyObject_CallOneArg(e->fallback, key);
        if (k == NULL)
            return -1;
        int usable = k != Py_NotImplemented && (PyUnicode_Check(k) || PyFloat_Check(k) ||
                                                PyLong_Check(k) || k == Py_None);
        rc = -1;
        if (usable) {
            encoder plain = *e; /* the converted key is written as json would */
            plain.fallback = NULL;
            rc = write_key(&plain, k);
        } else {
            PyErr_Format(PyExc_TypeError, "a %.100s key has no JSON form usable as a key",
                         Py_TYPE(key)->tp_name);
        }
        Py_DECREF(k);
    } else {
        PyErr_Format(PyExc_TypeError,
                     "keys must be str, int, float, bool or None, not %.100s",
                     Py_TYPE(key)->tp_name);
        return -1;
    }
    return rc;
}

/* Writes [,]"key":value. */
static int encode_member(encoder *e, PyObject *key, PyObject *value,
                         int first)
{
    tpy_buf *b = e->out;

    if (!first && buf_putc(b, ',') < 0)
        return -1;
    /* A str key, the common case, without the call. */
    if ((PyUnicode_Check(key) ? write_str(b, key) : write_key(e, key)) < 0 ||
        buf_putc(b, ':') < 0)
        return -1;
    return encode_obj(e, value);
}

/*
 * A dict: exact dicts are walked in place; subclasses through items(),
 * like json, so that e.g. an OrderedDict's own order is kept.
 */
static int encode_dict(encoder *e, PyObject *dict)
{
    tpy_buf *b = e->out;

    if (PyDict_GET_SIZE(dict) == 0)
        return buf_append(b, "{}", 2);
    if (mark_enter(e, dict) < 0)
        return -1;
    if (buf_putc(b, '{') < 0)
        return -1;

    if (PyDict_CheckExact(dict)) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        int first = 1, rc = 0;

        Py_BEGIN_CRITICAL_SECTION(dict);
        while (rc == 0 && PyDict_Next(dict, &pos, &key, &value)) {
            /* Held: nested user code could mutate this dict. */
            Py_INCREF(key);
            Py_INCREF(value);
            rc = encode_member(e, key, value, first);
            Py_DECREF(key);
            Py_DECREF(value);
            first = 0;
        }
        Py_END_CRITICAL_SECTION();
        if (rc < 0)
            return -1;
    } else {
        PyObject *items = PyMapping_Items(dict);

        if (items == NULL)
            return -1;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
            PyObject *item = PyList_GET_ITEM(items, i);

            if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
                PyErr_SetString(PyExc_ValueError,
                                "items must return 2-tuples");
                Py_DECREF(items);
                return -1;
            }
            if (encode_member(e, PyTuple_GET_ITEM(item, 0),
                              PyTuple_GET_ITEM(item, 1), i == 0) < 0) {
                Py_DECREF(items);
                return -1;
            }
        }
        Py_DECREF(items);
    }

    if (buf_putc(b, '}') < 0)
        return -1;
    return mark_leave(e, dict);
}

static int refuse(PyObject *o)
{
    /* json's message comes from o.__class__.__name__. */
    PyObject *cls = PyObject_GetAttrString(o, "__class__");
    PyObject *name;

    if (cls == NULL)
        return -1;
    name = PyObject_GetAttrString(cls, "__name__");
    Py_DECREF(cls);
    if (name == NULL)
        return -1;
    PyErr_Format(PyExc_TypeError, "Object of type %S is not JSON serializable",
                 name);
    Py_DECREF(name);
    return -1;
}

/* Type tests in json's order: None, True, False, str, int, float,
 * list/tuple, dict. */
static int encode_obj(encoder *e, PyObject *o)
{
    tpy_buf *b = e->out;
    int rc;

    if (PyUnicode_CheckExact(o))
        return write_str(b, o);
    if (o == Py_None)
        return buf_append(b, "null", 4);
    if (o == Py_True)
        return buf_append(b, "true", 4);
    if (o == Py_False)
        return buf_append(b, "false", 5);
    if (PyUnicode_Check(o))
        return write_str(b, o);
    if (PyLong_Check(o))
        return write_int(b, o, 0);
    if (PyFloat_Check(o))
        return write_float(b, o, 0);
    if (PyList_Check(o) || PyTuple_Check(o)) {
        if (Py_EnterRecursiveCall(" while encoding a JSON object"))
            return -1;
        rc = encode_sequence(e, o);
        Py_LeaveRecursiveCall();
        return rc;
    }
    if (PyDict_Check(o)) {
        if (Py_EnterRecursiveCall(" while encoding a JSON object"))
            return -1;
        rc = encode_dict(e, o);
        Py_LeaveRecursiveCall();
        return rc;
    }
    if (e->fallback != NULL) {
        /* The value's JSON form, from Python: only for types JSON lacks,
         * so the fast path above never pays for it. A fallback that
         * returns a value it is called with again ends in RecursionError. */
        if (Py_EnterRecursiveCall(" while encoding a JSON object"))
            return -1;
        PyObject *v = PyObject_CallOneArg(e->fallback, o);
        if (v == NULL) {
            Py_LeaveRecursiveCall();
            return -1;
        }
        rc = v == Py_NotImplemented ? refuse(o) : encode_obj(e, v);
        Py_DECREF(v);
        Py_LeaveRecursiveCall();
        return rc;
    }
    return refuse(o);
}

static int encode(PyObject *obj, tpy_buf *out, PyObject *fallback)
{
    encoder e;
    size_t start = out->len;
    int rc;

    e.out = out;
    e.depth = 0;
    e.deep_ids = NULL;
    e.fallback = fallback;
    rc = encode_obj(&e, obj);
    Py_XDECREF(e.deep_ids);
    if (rc < 0)
        out->len = start;
    return rc;
}

int tpy_json_encode(PyObject *obj, tpy_buf *out)
{
    return encode(obj, out, NULL);
}

int tpy_json_encode_response(PyObject *obj, tpy_buf *out)
{
    return encode(obj, out, response_fallback);
}
