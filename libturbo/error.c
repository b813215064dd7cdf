#include "turbo/turbo.h"

#define TURBO__STR2(x) #x
#define TURBO__STR(x) TURBO__STR2(x)

const char *turbo_strerror(int code)
{
    switch (code) {
    case TURBO_OK: return "success";
    case TURBO_DEFER: return "response deferred";
    case TURBO_FULL: return "written; the stream's queue is above its high-water mark";
    case TURBO_EINVAL: return "invalid argument";
    case TURBO_ENOMEM: return "out of memory";
    case TURBO_EEXIST: return "route already exists";
    case TURBO_ENOENT: return "not found";
    case TURBO_EPATTERN: return "malformed route pattern";
    case TURBO_ESTATE: return "not allowed in the server's current state";
    case TURBO_ESYS: return "system call failed (see errno)";
    case TURBO_EADDR: return "address cannot be resolved or bound";
    case TURBO_EHANDLER: return "handler failed";
    case TURBO_ERANGE: return "value out of range";
    default: return "unknown error";
    }
}

const char *turbo_version(void)
{
    return TURBO__STR(TURBO_VERSION_MAJOR) "." TURBO__STR(TURBO_VERSION_MINOR) "." TURBO__STR(
        TURBO_VERSION_PATCH);
}

int turbo_abi_version(void)
{
    return TURBO_ABI_VERSION;
}
