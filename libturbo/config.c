#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "forwarded.h"

/* The documented defaults (turbo.h, docs/configuration.md). */
void turbo__config_defaults(turbo_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->threads = 0;
    cfg->run_on_caller = 0;
    strcpy(cfg->server_name, "libturbo");
    cfg->max_header_bytes = 16384;
    cfg->max_headers = 100;
    cfg->max_uri_bytes = 8192;
    cfg->max_body_bytes = 1048576;
    cfg->header_timeout_ms = 10000;
    cfg->idle_timeout_ms = 60000;
    cfg->body_timeout_ms = 30000;
    cfg->write_timeout_ms = 30000;
    cfg->max_connections = 16384;
    cfg->backlog = 1024;
    cfg->blocking_threads = 16;
    cfg->blocking_queue = 1024;
    cfg->deferred_timeout_ms = 30000;
    cfg->stop_grace_ms = 10000;
    cfg->access_log_fd = -1;
    cfg->write_high = 262144;
    cfg->write_low = 65536;
    cfg->ws_max_message = 16777216;
    cfg->ws_ping_ms = 30000;
    cfg->ws_timeout_ms = 10000;
}

turbo_config *turbo_config_new(void)
{
    turbo_config *cfg = malloc(sizeof(*cfg));
    if (cfg != NULL)
        turbo__config_defaults(cfg);
    return cfg;
}

void turbo_config_free(turbo_config *cfg)
{
    free(cfg);
}

#define IN_RANGE(v, lo, hi) ((v) >= (lo) && (v) <= (hi))

int turbo_config_set_threads(turbo_config *cfg, unsigned threads)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (threads > 1024)
        return TURBO_ERANGE;
    cfg->threads = threads;
    return TURBO_OK;
}

int turbo_config_set_blocking_threads(turbo_config *cfg, unsigned n)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (n < 1 || n > 1024)
        return TURBO_ERANGE;
    cfg->blocking_threads = n;
    return TURBO_OK;
}

int turbo_config_set_blocking_queue(turbo_config *cfg, unsigned max)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (max < 1 || max > 1048576)
        return TURBO_ERANGE;
    cfg->blocking_queue = max;
    return TURBO_OK;
}

int turbo_config_set_deferred_timeout_ms(turbo_config *cfg, unsigned ms)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (ms < 10 || ms > 86400000)
        return TURBO_ERANGE;
    cfg->deferred_timeout_ms = ms;
    return TURBO_OK;
}

int turbo_config_set_stop_grace_ms(turbo_config *cfg, unsigned ms)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (ms > 86400000)
        return TURBO_ERANGE;
    cfg->stop_grace_ms = ms;
    return TURBO_OK;
}

int turbo_config_set_access_log(turbo_config *cfg, int fd)
{
    if (cfg == NULL || fd < -1)
        return TURBO_EINVAL;
    cfg->access_log_fd = fd;
    return TURBO_OK;
}

int turbo_config_set_write_watermarks(turbo_config *cfg, uint64_t high, uint64_t low)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (high == 0 || high > ((uint64_t)1 << 40) || low > high)
        return TURBO_ERANGE;
    cfg->write_high = high;
    cfg->write_low = low;
    return TURBO_OK;
}

int turbo_config_set_ws(turbo_config *cfg, uint64_t max_message, unsigned ping_ms,
                        unsigned timeout_ms)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (max_message == 0 || max_message > ((uint64_t)1 << 40) || ping_ms > 86400000 ||
        timeout_ms < 10 || timeout_ms > 86400000)
        return TURBO_ERANGE;
    cfg->ws_max_message = max_message;
    cfg->ws_ping_ms = ping_ms;
    cfg->ws_timeout_ms = timeout_ms;
    return TURBO_OK;
}

int turbo_config_set_exclusive_port(turbo_config *cfg, int on)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    cfg->exclusive_port = on != 0;
    return TURBO_OK;
}

int turbo_config_set_run_on_caller(turbo_config *cfg, int on)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    cfg->run_on_caller = on != 0;
    return TURBO_OK;
}

int turbo_config_set_server_name(turbo_config *cfg, const char *name)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (name == NULL) {
        cfg->server_name[0] = '\0';
        return TURBO_OK;
    }
    size_t n = strlen(name);
    if (n > TURBO__SERVER_NAME_MAX)
        return TURBO_ERANGE;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return TURBO_EINVAL;
    }
    memcpy(cfg->server_name, name, n + 1);
    return TURBO_OK;
}

int turbo_config_set_max_header_bytes(turbo_config *cfg, size_t bytes)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (!IN_RANGE(bytes, 256, 1048576))
        return TURBO_ERANGE;
    cfg->max_header_bytes = bytes;
    return TURBO_OK;
}

int turbo_config_set_max_headers(turbo_config *cfg, size_t count)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (!IN_RANGE(count, 1, 10000))
        return TURBO_ERANGE;
    cfg->max_headers = count;
    return TURBO_OK;
}

int turbo_config_set_max_uri_bytes(turbo_config *cfg, size_t bytes)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (!IN_RANGE(bytes, 16, 1048576))
        return TURBO_ERANGE;
    cfg->max_uri_bytes = bytes;
    return TURBO_OK;
}

int turbo_config_set_max_body_bytes(turbo_config *cfg, uint64_t bytes)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (bytes > ((uint64_t)1 << 40))
        return TURBO_ERANGE;
    cfg->max_body_bytes = bytes;
    return TURBO_OK;
}

static int set_ms(turbo_config *cfg, unsigned *field, unsigned ms)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (!IN_RANGE(ms, 10u, 86400000u))
        return TURBO_ERANGE;
    *field = ms;
    return TURBO_OK;
}

int turbo_config_set_header_timeout_ms(turbo_config *cfg, unsigned ms)
{
    return set_ms(cfg, cfg ? &cfg->header_timeout_ms : NULL, ms);
}

int turbo_config_set_idle_timeout_ms(turbo_config *cfg, unsigned ms)
{
    return set_ms(cfg, cfg ? &cfg->idle_timeout_ms : NULL, ms);
}

int turbo_config_set_body_timeout_ms(turbo_config *cfg, unsigned ms)
{
    return set_ms(cfg, cfg ? &cfg->body_timeout_ms : NULL, ms);
}

int turbo_config_set_write_timeout_ms(turbo_config *cfg, unsigned ms)
{
    return set_ms(cfg, cfg ? &cfg->write_timeout_ms : NULL, ms);
}

int turbo_config_set_max_connections(turbo_config *cfg, unsigned per_thread)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (!IN_RANGE(per_thread, 1u, 1048576u))
        return TURBO_ERANGE;
    cfg->max_connections = per_thread;
    return TURBO_OK;
}

int turbo_config_set_backlog(turbo_config *cfg, int backlog)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (!IN_RANGE(backlog, 1, 65535))
        return TURBO_ERANGE;
    cfg->backlog = backlog;
    return TURBO_OK;
}

int turbo_config_set_proxy_protocol(turbo_config *cfg, int on)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    cfg->proxy_protocol = on != 0;
    return TURBO_OK;
}

int turbo_config_set_forwarded(turbo_config *cfg, const char *allow_ips, int header)
{
    if (cfg == NULL)
        return TURBO_EINVAL;
    if (allow_ips == NULL || allow_ips[0] == '\0' || header == 0) {
        cfg->forwarded_header = 0;
        memset(&cfg->forwarded_trust, 0, sizeof(cfg->forwarded_trust));
        return TURBO_OK;
    }
    if (header != TURBO_FORWARDED_X_FORWARDED_FOR && header != TURBO_FORWARDED_RFC7239)
        return TURBO_EINVAL;
    turbo__trust trust;
    int r = turbo__trust_parse(allow_ips, strlen(allow_ips), &trust);
    if (r == TURBO__FWD_TOOMANY)
        return TURBO_ERANGE;
    if (r != 0)
        return TURBO_EINVAL;
    cfg->forwarded_header = header;
    cfg->forwarded_trust = trust;
    return TURBO_OK;
}

/* A built-in route's path: "/" then visible ASCII other than the
 * characters of a route pattern's syntax, at most 255 bytes; NULL or ""
 * for none. */
static int set_builtin_path(char *dst, const char *path)
{
    if (path == NULL || path[0] == '\0') {
        dst[0] = '\0';
        return TURBO_OK;
    }
    size_t n = strlen(path);
    if (n > TURBO__BUILTIN_PATH_MAX)
        return TURBO_ERANGE;
    if (path[0] != '/')
        return TURBO_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (path[i] <= ' ' || path[i] >= 0x7f || path[i] == '{' || path[i] == '}' ||
            path[i] == '?' || path[i] == '#')
            return TURBO_EINVAL;
    memcpy(dst, path, n + 1);
    return TURBO_OK;
}

int turbo_config_set_health_path(turbo_config *cfg, const char *path)
{
    return cfg == NULL ? TURBO_EINVAL : set_builtin_path(cfg->health_path, path);
}

int turbo_config_set_metrics_path(turbo_config *cfg, const char *path)
{
    return cfg == NULL ? TURBO_EINVAL : set_builtin_path(cfg->metrics_path, path);
}
