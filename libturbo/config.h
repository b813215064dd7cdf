/*
 * The configuration behind the public API's opaque turbo_config (setters
 * and the documented defaults in config.c). turbo_server_new() copies it
 * into the server; from then on every layer reads that copy, s->cfg.
 */
#ifndef TURBO_CONFIG_H
#define TURBO_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "turbo/turbo.h"

#include "forwarded.h"

#define TURBO__SERVER_NAME_MAX 255
#define TURBO__BUILTIN_PATH_MAX 255

struct turbo_config {
    unsigned threads;
    int run_on_caller;
    char server_name[TURBO__SERVER_NAME_MAX + 1];
    size_t max_header_bytes;
    size_t max_headers;
    size_t max_uri_bytes;
    uint64_t max_body_bytes;
    unsigned header_timeout_ms;
    unsigned idle_timeout_ms;
    unsigned body_timeout_ms;
    unsigned write_timeout_ms;
    unsigned max_connections;
    int backlog;
    int exclusive_port; /* refuse a port another socket holds */
    unsigned blocking_threads;
    unsigned blocking_queue;
    unsigned deferred_timeout_ms;
    unsigned stop_grace_ms;
    int access_log_fd; /* -1: no access log */
    uint64_t write_high, write_low; /* streamed responses' queue marks */
    uint64_t ws_max_message;
    unsigned ws_ping_ms, ws_timeout_ms;
    int proxy_protocol; /* connections open with a PROXY header (proxy.h) */
    int forwarded_header;    /* 0: off; else the header the trusted proxies write */
    turbo__trust forwarded_trust; /* (forwarded.h) */
    char health_path[TURBO__BUILTIN_PATH_MAX + 1]; /* "": no health route (metrics.c) */
    char metrics_path[TURBO__BUILTIN_PATH_MAX + 1]; /* "": no metrics route, no counting */
};

void turbo__config_defaults(turbo_config *cfg);

#endif
