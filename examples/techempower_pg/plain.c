/*
 * The two TechEmpower tests that touch no database: /plaintext and /json.
 * Both are plain inline handlers on the I/O thread; the server adds
 * Server, Date and Content-Length itself.
 *
 * TechEmpower's rules: /json must serialize an object on every request
 * (no response held ready), so the message goes through a JSON string
 * writer each time; /plaintext is a fixed body and may be a constant.
 */
#include "techempower.h"

#include <stdint.h>
#include <string.h>

static int plaintext(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    static const char body[] = "Hello, World!";
    int rc = turbo_response_header(res, "Content-Type", 12, "text/plain", 10);
    if (rc == TURBO_OK)
        rc = turbo_response_body_ref(res, body, sizeof(body) - 1, NULL, NULL);
    return rc;
}

/* Writes s as a JSON string (quotes included) at out, which has room for
 * 6 bytes per input byte plus 2; returns the bytes written. */
static size_t json_string(char *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    out[n++] = '"';
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else if (ch < 0x20) {
            memcpy(out + n, "\\u00", 4);
            out[n + 4] = hex[ch >> 4];
            out[n + 5] = hex[ch & 15];
            n += 6;
        } else {
            out[n++] = (char)ch;
        }
    }
    out[n++] = '"';
    return n;
}

static int json(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    static const char message[] = "Hello, World!";
    char body[16 + 6 * sizeof(message)];
    size_t n = 0;
    memcpy(body, "{\"message\":", 11);
    n = 11;
    n += json_string(body + n, message);
    body[n++] = '}';
    int rc = turbo_response_header(res, "Content-Type", 12, "application/json", 16);
    if (rc == TURBO_OK)
        rc = turbo_response_body(res, body, n);
    return rc;
}

int te_plain_routes(turbo_server *s)
{
    int rc = turbo_route_add(s, "GET", "/plaintext", plaintext, NULL);
    if (rc == TURBO_OK)
        rc = turbo_route_add(s, "GET", "/json", json, NULL);
    return rc;
}
