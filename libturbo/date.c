#include "date.h"

#include <string.h>

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* Formatted by hand: strftime's %a/%b follow the locale, HTTP's do not. */
void turbo__date_format(time_t t, char *out)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    char *p = out;
    memcpy(p, "Date: ", 6);
    p += 6;
    memcpy(p, wdays[tm.tm_wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put2(p, tm.tm_mday);
    *p++ = ' ';
    memcpy(p, months[tm.tm_mon], 3);
    p += 3;
    *p++ = ' ';
    int year = tm.tm_year + 1900;
    p = put2(p, year / 100 % 100);
    p = put2(p, year % 100);
    *p++ = ' ';
    p = put2(p, tm.tm_hour);
    *p++ = ':';
    p = put2(p, tm.tm_min);
    *p++ = ':';
    p = put2(p, tm.tm_sec);
    memcpy(p, " GMT\r\n", 7); /* with the NUL */
}

void turbo__date_init(turbo__date *d)
{
    d->sec = (time_t)-1;
    turbo__date_update(d);
}

void turbo__date_update(turbo__date *d)
{
    struct timespec ts;
    /* The coarse clock is a vDSO read of the last tick: cheap enough to
     * call once per batch of requests. */
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec == d->sec)
        return;
    d->sec = ts.tv_sec;
    turbo__date_format(ts.tv_sec, d->line);
}
