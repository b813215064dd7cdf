/*
 * JSON encoding of Python values, in C, into a growable byte buffer: the
 * Python binding writes a handler's dict/list result straight into the
 * response body with it. The output is byte-identical to
 * json.dumps(obj, separators=(",", ":")) (ensure_ascii, key order as
 * iterated), except that NaN and infinities are refused (they are not
 * JSON).
 */
#ifndef TURBO_PY_JSONENC_H
#define TURBO_PY_JSONENC_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct tpy_buf {
    char *ptr;
    size_t len, cap;
} tpy_buf;

/* Grows b by at least extra bytes; 0, or -1 with MemoryError set. */
int tpy_buf_reserve(tpy_buf *b, size_t extra);
void tpy_buf_free(tpy_buf *b);

/*
 * Appends the JSON text of obj to out. Returns 0, or -1 with a Python
 * exception set and out->len restored to its value on entry:
 *   TypeError      a value (or dict key) json.dumps would refuse, naming
 *                  its type: "Object of type set is not JSON serializable"
 *   ValueError     NaN or an infinity: "Out of range float values are not
 *                  JSON compliant"
 *   RecursionError nesting deeper than Python's recursion limit allows, or
 *                  a container that contains itself ("Circular reference
 *                  detected", ValueError, like json.dumps)
 * Must be called with the GIL held (or attached thread state).
 */
int tpy_json_encode(PyObject *obj, tpy_buf *out);

/*
 * The same for a handler's result: a value of a type JSON lacks (a
 * pydantic model, dataclass, datetime, UUID, Enum, Decimal, set...) is
 * handed to the fallback set with tpy_json_set_fallback, and what it
 * returns is encoded in its place (as FastAPI's jsonable_encoder makes
 * such values encodable); NotImplemented from it, or no fallback, is the
 * TypeError above.
 */
int tpy_json_encode_response(PyObject *obj, tpy_buf *out);
/* Sets the fallback: 0, or -1 (no error set) when it is set already. */
int tpy_json_set_fallback(PyObject *func);

#endif
