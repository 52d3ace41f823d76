/*
 * demo.c: CRA from C. Loads the customer-support atlas, resolves what a support agent may do,
 * authorizes one tool call, reports its result, ends the session, then drains the TRACE and
 * verifies its hash chain.
 *
 *   make build-ffi
 *   cc -std=c11 -Wall -Wextra -Werror -Iffi/include examples/c/demo.c \
 *      -Ltarget/release -lcra -Wl,-rpath,$PWD/target/release -o demo
 *   ./demo examples/atlases/customer-support
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cra.h"

/* A C string as the (ptr, len) pair every CRA input takes. */
#define STR(s) (const uint8_t *)(s), strlen(s)

/* Prints a failed call's status and message, frees the error, and exits. */
static void die(const char *what, CraStatus status, CraError *err) {
    fprintf(stderr, "demo: %s failed: %s (%u): %s\n", what, cra_error_code_name(err),
            (unsigned)status, err ? cra_error_message(err) : "(no details)");
    cra_error_free(err);
    exit(1);
}

/* Copies the string value of the first `"key":"..."` in `json` into `out` (demo-grade JSON
 * reading: CRA's ids never contain quotes or escapes). */
static int json_string(const CraBuffer *json, const char *key, char *out, size_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = strstr((const char *)json->ptr, pattern);
    if (at == NULL) return 0;
    at += strlen(pattern);
    const char *end = strchr(at, '"');
    if (end == NULL || (size_t)(end - at) >= cap) return 0;
    memcpy(out, at, (size_t)(end - at));
    out[end - at] = '\0';
    return 1;
}

int main(int argc, char **argv) {
    const char *atlas_dir = argc > 1 ? argv[1] : "examples/atlases/customer-support";
    if (cra_abi_version() != CRA_ABI_VERSION) {
        fprintf(stderr, "demo: libcra ABI %u, header ABI %u\n", cra_abi_version(), CRA_ABI_VERSION);
        return 1;
    }
    printf("libcra %s (ABI %u)\n", cra_version(), cra_abi_version());

    CraError *err = NULL;
    CraResolver *r = NULL;
    CraStatus st = cra_resolver_new(STR("{}"), &r, &err);
    if (st != CRA_STATUS_OK) die("cra_resolver_new", st, err);

    CraBuffer out;
    st = cra_resolver_load_atlas_dir(r, STR(atlas_dir), &out, &err);
    if (st != CRA_STATUS_OK) die("cra_resolver_load_atlas_dir", st, err);
    printf("loaded   %s\n", (const char *)out.ptr);
    cra_buffer_free(&out);

    const char *resolve =
        "{\"operation\":\"resolve\","
        "\"requester\":{\"agent_id\":\"support-bot\",\"session_id\":\"demo-c-1\"},"
        "\"task\":{\"goal\":\"Where is order ORD-1234? The customer wants a refund.\"}}";
    st = cra_resolver_resolve(r, STR(resolve), &out, &err);
    if (st != CRA_STATUS_OK) die("cra_resolver_resolve", st, err);
    char resolution_id[128];
    if (!json_string(&out, "resolution_id", resolution_id, sizeof resolution_id)) {
        fprintf(stderr, "demo: no resolution_id in %s\n", (const char *)out.ptr);
        return 1;
    }
    printf("resolved %s (%zu bytes of resolution JSON)\n", resolution_id, out.len);
    cra_buffer_free(&out);

    CraVerdict verdict;
    st = cra_resolver_check(r, STR("demo-c-1"), STR("orders.lookup"), &verdict, &err);
    if (st != CRA_STATUS_OK) die("cra_resolver_check", st, err);
    printf("check    orders.lookup -> %s\n", verdict == CRA_VERDICT_ALLOWED ? "allowed" : "not allowed");

    char request[512];
    snprintf(request, sizeof request,
             "{\"requester\":{\"agent_id\":\"support-bot\",\"session_id\":\"demo-c-1\"},"
             "\"execution\":{\"resolution_id\":\"%s\",\"action_id\":\"orders.lookup\","
             "\"parameters\":{\"order_id\":\"ORD-1234\"}}}",
             resolution_id);
    st = cra_resolver_execute(r, STR(request), &out, &err);
    if (st != CRA_STATUS_OK) die("cra_resolver_execute", st, err);
    printf("execute  %s\n", (const char *)out.ptr);
    char execution_id[128];
    if (!json_string(&out, "execution_id", execution_id, sizeof execution_id)) {
        fprintf(stderr, "demo: the call was not authorized\n");
        return 1;
    }
    cra_buffer_free(&out);

    /* ... the host runs the tool here, then reports what it returned ... */
    char report[512];
    snprintf(report, sizeof report,
             "{\"execution_id\":\"%s\",\"result\":{\"status\":\"delivered\"},\"duration_ms\":3.5}",
             execution_id);
    st = cra_resolver_report(r, STR(report), &out, &err);
    if (st != CRA_STATUS_OK) die("cra_resolver_report", st, err);
    printf("report   %s\n", (const char *)out.ptr);
    cra_buffer_free(&out);

    st = cra_resolver_end_session(r, STR("{\"session_id\":\"demo-c-1\",\"reason\":\"done\"}"), &out, &err);
    if (st != CRA_STATUS_OK) die("cra_resolver_end_session", st, err);
    cra_buffer_free(&out);

    CraBuffer trace;
    st = cra_resolver_drain_trace(r, &trace, &err);
    if (st != CRA_STATUS_OK) die("cra_resolver_drain_trace", st, err);
    size_t events = 0;
    for (size_t i = 0; i < trace.len; i++) events += trace.ptr[i] == '\n';
    st = cra_trace_verify(trace.ptr, trace.len, &out, &err);
    cra_buffer_free(&trace);
    if (st != CRA_STATUS_OK) die("cra_trace_verify", st, err);
    int ok = strstr((const char *)out.ptr, "\"ok\":true") != NULL;
    printf("trace    %zu events, verify: %s\n", events, (const char *)out.ptr);
    cra_buffer_free(&out);

    cra_resolver_free(r);
    printf("%s\n", ok ? "demo: trace verified" : "demo: TRACE DID NOT VERIFY");
    return ok ? 0 : 1;
}
