/*
 * The per-thread cached "Date: ...\r\n" header line (RFC 9110 IMF-fixdate),
 * formatted again only when the second changes.
 */
#ifndef TURBO_DATE_H
#define TURBO_DATE_H

#include <stddef.h>
#include <time.h>

#define TURBO__DATE_LINE_LEN 37 /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" */

typedef struct turbo__date {
    time_t sec;
    char line[TURBO__DATE_LINE_LEN + 1];
} turbo__date;

void turbo__date_init(turbo__date *d);
/* Refreshes the line if the wall-clock second has changed. */
void turbo__date_update(turbo__date *d);
/* Formats the line for t into out (TURBO__DATE_LINE_LEN bytes + NUL). */
void turbo__date_format(time_t t, char *out);

#endif
