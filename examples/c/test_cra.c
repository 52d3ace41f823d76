/*
 * test_cra.c: the C test driver of libcra. Exercises every exported function, every error path
 * reachable from C (NULL arguments, invalid UTF-8, bad JSON, each engine error code the engine
 * can produce, a poisoned handle after an injected panic), ownership (every buffer and error
 * is freed; run under valgrind by `make test-c`) and threads (pthreads sharing one handle).
 *
 * Built against the `testing`-feature library (for cra_testing_panic):
 *   cc -std=c11 -DCRA_TESTING -Iffi/include examples/c/test_cra.c -L<lib> -lcra -lpthread
 *   ./test_cra examples/atlases/customer-support
 * Prints `N passed, 0 failed` and exits 0 when everything passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cra.h"

#ifndef CRA_TESTING
#error "test_cra.c needs -DCRA_TESTING and a libcra built with the `testing` feature"
#endif

static int passed, failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            passed++;                                                                \
        } else {                                                                     \
            failed++;                                                                \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
        }                                                                            \
    } while (0)

/* A C string as an input pair. */
#define STR(s) (const uint8_t *)(s), strlen(s)
/* Bytes that are not UTF-8. */
static const uint8_t BAD_UTF8[] = {'{', 0xff, 0xfe, '}'};
#define BAD BAD_UTF8, sizeof BAD_UTF8
/* A NULL pointer with a non-zero length. */
#define NULLIN NULL, 3

static const char *ATLAS_DIR = "examples/atlases/customer-support";
/* A minimal inline atlas. */
static const char *TMP_ATLAS =
    "{\"atlas_version\":\"1.0\",\"atlas_id\":\"tmp.atlas\",\"version\":\"1.0.0\",\"name\":\"t\","
    "\"description\":\"t\",\"actions\":[{\"action_id\":\"t.a\",\"name\":\"a\",\"description\":\"a\"}]}";

/* Engine error codes seen in failed calls, to assert that each reachable one was reached. */
static int seen[1000];

/* Checks a call's status against `want`, and that the error (if any) agrees with the status,
 * has a name and a message and serializes to JSON carrying the same code. Frees `err`. */
static void expect_at(int line, CraStatus got, CraStatus want, CraError *err) {
    if (got != want) {
        failed++;
        fprintf(stderr, "FAIL line %d: status %s (%u), want %s (%u): %s\n", line,
                cra_status_name(got), (unsigned)got, cra_status_name(want), (unsigned)want,
                err ? cra_error_message(err) : "(no error)");
        cra_error_free(err);
        return;
    }
    passed++;
    if (got < 1000) seen[got]++;
    if (want == CRA_STATUS_OK) {
        CHECK(err == NULL);
        return;
    }
    CHECK(err != NULL);
    if (err == NULL) return;
    CHECK(cra_error_code(err) == want);
    CHECK(strcmp(cra_error_code_name(err), cra_status_name(want)) == 0);
    CHECK(cra_error_message(err) != NULL && strlen(cra_error_message(err)) > 0);
    CraBuffer json;
    CHECK(cra_error_json(err, &json) == CRA_STATUS_OK);
    char needle[80];
    snprintf(needle, sizeof needle, "\"code\":\"%s\"", cra_status_name(want));
    CHECK(json.ptr != NULL && strstr((const char *)json.ptr, needle) != NULL);
    cra_buffer_free(&json);
    cra_error_free(err);
}
#define EXPECT(call, want)                        \
    do {                                          \
        CraError *e_ = NULL;                      \
        CraStatus s_ = (call);                    \
        expect_at(__LINE__, s_, (want), e_);      \
    } while (0)
/* The calls inside EXPECT pass `&e_` as their error out-param. */
#define ERR &e_

/* Runs a JSON call that must succeed and returns its owned output (free with cra_buffer_free). */
static CraBuffer must(int line, CraStatus st, CraError *err, CraBuffer out) {
    expect_at(line, st, CRA_STATUS_OK, err);
    if (st != CRA_STATUS_OK) {
        fprintf(stderr, "  (line %d) aborting: a setup call failed\n", line);
        exit(2);
    }
    CHECK(out.ptr != NULL && out.ptr[out.len] == '\0' && strlen((char *)out.ptr) == out.len);
    return out;
}
#define MUST(fn, ...)                                          \
    ({                                                         \
        CraError *e_ = NULL;                                   \
        CraBuffer o_;                                          \
        CraStatus s_ = fn(__VA_ARGS__, &o_, &e_);              \
        must(__LINE__, s_, e_, o_);                            \
    })

/* Copies the value of the first `"key":"..."` in `json` into `out`. */
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

static int contains(const CraBuffer *b, const char *needle) {
    return b->ptr != NULL && strstr((const char *)b->ptr, needle) != NULL;
}

static CraResolver *new_resolver(const char *config) {
    CraResolver *r = NULL;
    CraError *err = NULL;
    CraStatus st = cra_resolver_new(STR(config), &r, &err);
    expect_at(__LINE__, st, CRA_STATUS_OK, err);
    if (r == NULL) exit(2);
    return r;
}

static void resolve_request(char *buf, size_t cap, const char *agent, const char *session) {
    snprintf(buf, cap,
             "{\"operation\":\"resolve\",\"requester\":{\"agent_id\":\"%s\",\"session_id\":\"%s\"},"
             "\"task\":{\"goal\":\"help with order ORD-1234\"}}",
             agent, session);
}

static void execute_request(char *buf, size_t cap, const char *agent, const char *session,
                            const char *resolution, const char *action, const char *params) {
    snprintf(buf, cap,
             "{\"requester\":{\"agent_id\":\"%s\",\"session_id\":\"%s\"},"
             "\"execution\":{\"resolution_id\":\"%s\",\"action_id\":\"%s\",\"parameters\":%s}}",
             agent, session, resolution, action, params);
}

/* Resolves for (agent, session) and copies the resolution id. */
static void resolve_into(const CraResolver *r, const char *agent, const char *session, char *id,
                         size_t cap) {
    char req[512];
    resolve_request(req, sizeof req, agent, session);
    CraBuffer out = MUST(cra_resolver_resolve, r, STR(req));
    CHECK(json_string(&out, "resolution_id", id, cap));
    cra_buffer_free(&out);
}

/* ---------------------------------------------------------------- versions and statics */

static void test_versions(void) {
    CHECK(cra_abi_version() == CRA_ABI_VERSION);
    CHECK(CRA_ABI_VERSION == 1);
    CHECK(cra_version() != NULL && strlen(cra_version()) > 0);
    CHECK(strcmp(cra_status_name(CRA_STATUS_OK), "OK") == 0);
    CHECK(strcmp(cra_status_name(CRA_STATUS_INVALID_REQUEST), "INVALID_REQUEST") == 0);
    CHECK(strcmp(cra_status_name(CRA_STATUS_PANIC), "PANIC") == 0);
    CHECK(strcmp(cra_status_name(CRA_STATUS_POISONED), "POISONED") == 0);
    CHECK(strcmp(cra_status_name(4242), "UNKNOWN") == 0);
    /* status == engine error code, fixed forever */
    CHECK(CRA_STATUS_INVALID_REQUEST == 100 && CRA_STATUS_INVALID_CONFIG == 101);
    CHECK(CRA_STATUS_INVALID_ATLAS == 110 && CRA_STATUS_INTERNAL == 190 && CRA_STATUS_PANIC == 900);
    CHECK(CRA_VERDICT_ALLOWED == 0 && CRA_VERDICT_NO_RESOLUTION == 4);
    CHECK(sizeof(CraStatus) == 4 && sizeof(CraVerdict) == 4);
}

/* ---------------------------------------------------------------- buffers and errors */

static void test_ownership_helpers(void) {
    cra_buffer_free(NULL);
    CraBuffer empty = {NULL, 0, 0};
    cra_buffer_free(&empty);
    cra_error_free(NULL);
    CHECK(cra_error_code(NULL) == CRA_STATUS_NULL_ARGUMENT);
    CHECK(strcmp(cra_error_code_name(NULL), "NULL_ARGUMENT") == 0);
    CHECK(cra_error_message(NULL) == NULL);
    CHECK(cra_error_pointer(NULL) == NULL);
    CraBuffer out = {(uint8_t *)1, 1, 1};
    CHECK(cra_error_json(NULL, &out) == CRA_STATUS_NULL_ARGUMENT);
    CHECK(out.ptr == NULL && out.len == 0); /* failure leaves the empty buffer */

    /* A buffer freed twice: the second free is a no-op because the first resets it. */
    CraBuffer v = MUST(cra_trace_verify, NULL, 0);
    cra_buffer_free(&v);
    CHECK(v.ptr == NULL && v.len == 0 && v.cap == 0);
    cra_buffer_free(&v);

    /* An error's strings: message always, pointer for input errors, code name static. */
    CraResolver *r = NULL;
    CraError *err = NULL;
    CHECK(cra_resolver_new(STR("{\"resolution_ttl_seconds\":0}"), &r, &err) == CRA_STATUS_INVALID_CONFIG);
    CHECK(r == NULL && err != NULL);
    const char *name = cra_error_code_name(err);
    CHECK(strcmp(cra_error_pointer(err), "/resolution_ttl_seconds") == 0);
    CHECK(strstr(cra_error_message(err), "resolution_ttl_seconds") != NULL);
    cra_error_free(err);
    CHECK(strcmp(name, "INVALID_CONFIG") == 0); /* static: outlives the error */

    /* err may be NULL: the status alone still says what happened, nothing leaks. */
    CHECK(cra_resolver_new(STR("{"), &r, NULL) == CRA_STATUS_INVALID_CONFIG);
    /* verify takes any bytes: a line that is not UTF-8 is a malformed event, not a call error */
    CHECK(cra_trace_verify(BAD, &v, NULL) == CRA_STATUS_OK);
    CHECK(contains(&v, "\"ok\":false") && contains(&v, "malformed_event"));
    cra_buffer_free(&v);
}

/* ---------------------------------------------------------------- creating resolvers */

static void test_new(void) {
    CraResolver *r = NULL;
    EXPECT(cra_resolver_new(NULL, 0, &r, ERR), CRA_STATUS_OK); /* empty config: defaults */
    cra_resolver_free(r);
    r = NULL;
    EXPECT(cra_resolver_new(STR("  "), &r, ERR), CRA_STATUS_OK);
    cra_resolver_free(r);
    r = NULL;
    EXPECT(cra_resolver_new(STR("{\"deterministic\":{\"seed\":3}}"), &r, ERR), CRA_STATUS_OK);
    cra_resolver_free(r);
    r = NULL;
    EXPECT(cra_resolver_new(STR("{"), &r, ERR), CRA_STATUS_INVALID_CONFIG);
    EXPECT(cra_resolver_new(STR("{\"nope\":1}"), &r, ERR), CRA_STATUS_INVALID_CONFIG);
    EXPECT(cra_resolver_new(STR("1"), &r, ERR), CRA_STATUS_INVALID_CONFIG);
    EXPECT(cra_resolver_new(STR("[]"), &r, ERR), CRA_STATUS_INVALID_CONFIG);
    EXPECT(cra_resolver_new(BAD, &r, ERR), CRA_STATUS_INVALID_UTF8);
    EXPECT(cra_resolver_new(NULLIN, &r, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_new(STR("{}"), NULL, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_new(STR("{\"trace\":{\"sink\":\"file\",\"path\":\"/nonexistent-dir/x/t.jsonl\"}}"), &r, ERR),
           CRA_STATUS_IO_ERROR);
    CHECK(r == NULL);
    cra_resolver_free(NULL);
}

/* ---------------------------------------------------------------- NULL and UTF-8 on every export */

static void test_abi_errors_everywhere(const CraResolver *r) {
    CraBuffer out;
    CraVerdict v;
    typedef CraStatus (*json_fn)(const CraResolver *, const uint8_t *, size_t, CraBuffer *, CraError **);
    json_fn fns[] = {cra_resolver_load_atlas, cra_resolver_load_atlas_dir, cra_resolver_unload_atlas,
                     cra_resolver_resolve,    cra_resolver_execute,        cra_resolver_report,
                     cra_resolver_approve,    cra_resolver_reject,         cra_resolver_end_session,
                     cra_resolver_list_approvals};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        EXPECT(fns[i](NULL, STR("{}"), &out, ERR), CRA_STATUS_NULL_ARGUMENT);
        CHECK(out.ptr == NULL);
        EXPECT(fns[i](r, STR("{}"), NULL, ERR), CRA_STATUS_NULL_ARGUMENT);
        EXPECT(fns[i](r, NULLIN, &out, ERR), CRA_STATUS_NULL_ARGUMENT);
        EXPECT(fns[i](r, BAD, &out, ERR), CRA_STATUS_INVALID_UTF8);
        CHECK(out.ptr == NULL && out.len == 0);
    }
    EXPECT(cra_resolver_check(NULL, STR("s"), STR("a"), &v, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_check(r, STR("s"), STR("a"), NULL, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_check(r, NULLIN, STR("a"), &v, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_check(r, STR("s"), NULLIN, &v, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_check(r, BAD, STR("a"), &v, ERR), CRA_STATUS_INVALID_UTF8);
    EXPECT(cra_resolver_check(r, STR("s"), BAD, &v, ERR), CRA_STATUS_INVALID_UTF8);
    /* the lean fast path answers a failure as its negated status */
    CHECK(cra_resolver_verdict(NULL, STR("s"), STR("a")) == -(int32_t)CRA_STATUS_NULL_ARGUMENT);
    CHECK(cra_resolver_verdict(r, NULLIN, STR("a")) == -(int32_t)CRA_STATUS_NULL_ARGUMENT);
    CHECK(cra_resolver_verdict(r, STR("s"), NULLIN) == -(int32_t)CRA_STATUS_NULL_ARGUMENT);
    CHECK(cra_resolver_verdict(r, BAD, STR("a")) == -(int32_t)CRA_STATUS_INVALID_UTF8);
    CHECK(cra_resolver_verdict(r, STR("s"), BAD) == -(int32_t)CRA_STATUS_INVALID_UTF8);
    EXPECT(cra_resolver_flush(NULL, 10, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_drain_trace(NULL, &out, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_drain_trace(r, NULL, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_stats(NULL, &out, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_stats(r, NULL, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_advance_clock(NULL, 1, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_resolver_close(NULL, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_testing_panic(NULL, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_trace_verify(NULLIN, &out, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_trace_verify(STR(""), NULL, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_trace_verify(BAD, &out, ERR), CRA_STATUS_OK);
    cra_buffer_free(&out);
    EXPECT(cra_trace_verify_file(NULLIN, &out, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_trace_verify_file(STR("x"), NULL, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_trace_verify_file(BAD, &out, ERR), CRA_STATUS_INVALID_UTF8);
    EXPECT(cra_trace_replay(NULLIN, STR("[]"), &out, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_trace_replay(STR(""), NULLIN, &out, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_trace_replay(STR(""), STR("[]"), NULL, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_trace_replay(BAD, STR("[]"), &out, ERR), CRA_STATUS_INVALID_UTF8);
    EXPECT(cra_trace_replay(STR(""), BAD, &out, ERR), CRA_STATUS_INVALID_UTF8);
    EXPECT(cra_atlas_document(NULLIN, &out, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_atlas_document(STR("x"), NULL, ERR), CRA_STATUS_NULL_ARGUMENT);
    EXPECT(cra_atlas_document(BAD, &out, ERR), CRA_STATUS_INVALID_UTF8);
    EXPECT(cra_atlas_document(STR("/nonexistent/atlas"), &out, ERR), CRA_STATUS_IO_ERROR);
}

/* ---------------------------------------------------------------- the whole flow, every engine error */

static void test_flow(void) {
    const CraResolver *r = new_resolver("{\"deterministic\":{\"seed\":7}}");
    CraBuffer out;

    /* atlases */
    /* a directory as one document: context files inlined by the loader */
    EXPECT(cra_atlas_document(STR(ATLAS_DIR), &out, ERR), CRA_STATUS_OK);
    CHECK(contains(&out, "\"atlas_id\":\"com.example.customer-support\""));
    CHECK(contains(&out, "\"content\":") && !contains(&out, "\"files\":"));
    cra_buffer_free(&out);
    out = MUST(cra_resolver_load_atlas_dir, r, STR(ATLAS_DIR));
    CHECK(contains(&out, "\"atlas_id\":\"com.example.customer-support\""));
    CHECK(contains(&out, "\"replaced\":false"));
    cra_buffer_free(&out);
    out = MUST(cra_resolver_load_atlas_dir, r, STR(ATLAS_DIR));
    CHECK(contains(&out, "\"replaced\":true"));
    cra_buffer_free(&out);
    EXPECT(cra_resolver_load_atlas_dir(r, STR("/nonexistent/atlas"), &out, ERR), CRA_STATUS_IO_ERROR);
    EXPECT(cra_resolver_load_atlas(r, STR("{"), &out, ERR), CRA_STATUS_INVALID_ATLAS);
    {
        CraError *err = NULL;
        CHECK(cra_resolver_load_atlas(r, STR("{\"atlas_id\":\"x\",\"actions\":7}"), &out, &err) ==
              CRA_STATUS_INVALID_ATLAS);
        CraBuffer json;
        CHECK(cra_error_json(err, &json) == CRA_STATUS_OK);
        CHECK(contains(&json, "\"details\":["));
        CHECK(cra_error_pointer(err) != NULL);
        cra_buffer_free(&json);
        cra_error_free(err);
        seen[CRA_STATUS_INVALID_ATLAS]++;
    }
    out = MUST(cra_resolver_load_atlas, r, STR(TMP_ATLAS));
    cra_buffer_free(&out);
    out = MUST(cra_resolver_unload_atlas, r, STR("tmp.atlas"));
    CHECK(contains(&out, "\"unloaded\":true"));
    cra_buffer_free(&out);
    EXPECT(cra_resolver_unload_atlas(r, STR("tmp.atlas"), &out, ERR), CRA_STATUS_ATLAS_NOT_FOUND);

    /* resolve */
    char res[128], req[1024];
    resolve_into(r, "support-bot", "s1", res, sizeof res);
    EXPECT(cra_resolver_resolve(r, STR("{"), &out, ERR), CRA_STATUS_INVALID_REQUEST);
    {
        CraError *err = NULL;
        CHECK(cra_resolver_resolve(r, STR("{\"operation\":\"resolve\",\"bogus\":1}"), &out, &err) ==
              CRA_STATUS_INVALID_REQUEST);
        CHECK(cra_error_pointer(err) != NULL);
        cra_error_free(err);
    }
    EXPECT(cra_resolver_resolve(r,
                                STR("{\"operation\":\"resolve\",\"requester\":{\"agent_id\":\"support-bot\","
                                    "\"session_id\":\"s9\"},\"task\":{\"goal\":\"g\"},\"atlas_ids\":[\"nope\"]}"),
                                &out, ERR),
           CRA_STATUS_ATLAS_NOT_FOUND);

    /* fast path */
    CraVerdict v = 99;
    EXPECT(cra_resolver_check(r, STR("s1"), STR("orders.lookup"), &v, ERR), CRA_STATUS_OK);
    CHECK(v == CRA_VERDICT_ALLOWED);
    EXPECT(cra_resolver_check(r, STR("s1"), STR("customers.delete_account"), &v, ERR), CRA_STATUS_OK);
    CHECK(v == CRA_VERDICT_DENIED);
    EXPECT(cra_resolver_check(r, STR("s1"), STR("orders.refund_large"), &v, ERR), CRA_STATUS_OK);
    CHECK(v == CRA_VERDICT_PENDING_APPROVAL);
    EXPECT(cra_resolver_check(r, STR("nobody"), STR("orders.lookup"), &v, ERR), CRA_STATUS_OK);
    CHECK(v == CRA_VERDICT_NO_RESOLUTION);
    /* the lean shape gives the same verdicts as its return value */
    CHECK(cra_resolver_verdict(r, STR("s1"), STR("orders.lookup")) == CRA_VERDICT_ALLOWED);
    CHECK(cra_resolver_verdict(r, STR("s1"), STR("customers.delete_account")) == CRA_VERDICT_DENIED);
    CHECK(cra_resolver_verdict(r, STR("s1"), STR("orders.refund_large")) == CRA_VERDICT_PENDING_APPROVAL);
    CHECK(cra_resolver_verdict(r, STR("nobody"), STR("orders.lookup")) == CRA_VERDICT_NO_RESOLUTION);

    /* execute + report */
    char exec_id[128], approval[128];
    execute_request(req, sizeof req, "support-bot", "s1", res, "orders.lookup", "{\"order_id\":\"ORD-1234\"}");
    out = MUST(cra_resolver_execute, r, STR(req));
    CHECK(contains(&out, "\"status\":\"authorized\""));
    CHECK(json_string(&out, "execution_id", exec_id, sizeof exec_id));
    cra_buffer_free(&out);
    execute_request(req, sizeof req, "support-bot", "s1", res, "orders.lookup", "{\"order_id\":7}");
    {
        CraError *err = NULL;
        CHECK(cra_resolver_execute(r, STR(req), &out, &err) == CRA_STATUS_INVALID_PARAMETERS);
        CHECK(err && cra_error_pointer(err) && strncmp(cra_error_pointer(err), "/execution/parameters", 21) == 0);
        cra_error_free(err);
        seen[CRA_STATUS_INVALID_PARAMETERS]++;
    }
    execute_request(req, sizeof req, "support-bot", "s1", "res-unknown", "orders.lookup", "{}");
    EXPECT(cra_resolver_execute(r, STR(req), &out, ERR), CRA_STATUS_RESOLUTION_NOT_FOUND);
    EXPECT(cra_resolver_execute(r, STR("[1]"), &out, ERR), CRA_STATUS_INVALID_REQUEST);

    char rep[512];
    snprintf(rep, sizeof rep, "{\"execution_id\":\"%s\",\"result\":{\"ok\":true}}", exec_id);
    out = MUST(cra_resolver_report, r, STR(rep));
    CHECK(contains(&out, exec_id));
    cra_buffer_free(&out);
    EXPECT(cra_resolver_report(r, STR(rep), &out, ERR), CRA_STATUS_EXECUTION_ALREADY_REPORTED);
    EXPECT(cra_resolver_report(r, STR("{\"execution_id\":\"nope\",\"result\":1}"), &out, ERR),
           CRA_STATUS_EXECUTION_NOT_FOUND);
    EXPECT(cra_resolver_report(r, STR("{\"execution_id\":1}"), &out, ERR), CRA_STATUS_INVALID_REQUEST);

    /* rate limit: 3 refunds per session, the 4th is denied and check says rate_limited */
    for (int i = 0; i < 4; i++) {
        execute_request(req, sizeof req, "support-bot", "s1", res, "orders.refund",
                        "{\"order_id\":\"ORD-1234\",\"amount\":10,\"reason\":\"damaged\"}");
        out = MUST(cra_resolver_execute, r, STR(req));
        CHECK(contains(&out, i < 3 ? "\"authorized\"" : "\"rate_limit_exceeded\""));
        cra_buffer_free(&out);
    }
    EXPECT(cra_resolver_check(r, STR("s1"), STR("orders.refund"), &v, ERR), CRA_STATUS_OK);
    CHECK(v == CRA_VERDICT_RATE_LIMITED);
    CHECK(cra_resolver_verdict(r, STR("s1"), STR("orders.refund")) == CRA_VERDICT_RATE_LIMITED);

    /* approvals */
    execute_request(req, sizeof req, "support-bot", "s1", res, "orders.refund_large",
                    "{\"order_id\":\"ORD-1234\",\"amount\":450,\"reason\":\"damaged\"}");
    out = MUST(cra_resolver_execute, r, STR(req));
    CHECK(contains(&out, "\"pending_approval\""));
    CHECK(json_string(&out, "approval_id", approval, sizeof approval));
    cra_buffer_free(&out);
    out = MUST(cra_resolver_list_approvals, r, STR("{}"));
    CHECK(contains(&out, approval) && contains(&out, "\"orders.refund_large\""));
    cra_buffer_free(&out);
    char dec[256];
    /* the agent that asked cannot approve its own call */
    snprintf(dec, sizeof dec, "{\"approval_id\":\"%s\",\"approver\":\"support-bot\"}", approval);
    EXPECT(cra_resolver_approve(r, STR(dec), &out, ERR), CRA_STATUS_APPROVAL_FORBIDDEN);
    snprintf(dec, sizeof dec, "{\"approval_id\":\"%s\",\"approver\":\"sup\",\"reason\":\"ok\"}", approval);
    out = MUST(cra_resolver_approve, r, STR(dec));
    CHECK(contains(&out, "approved"));
    cra_buffer_free(&out);
    EXPECT(cra_resolver_approve(r, STR(dec), &out, ERR), CRA_STATUS_APPROVAL_ALREADY_DECIDED);
    EXPECT(cra_resolver_reject(r, STR(dec), &out, ERR), CRA_STATUS_APPROVAL_ALREADY_DECIDED);
    EXPECT(cra_resolver_approve(r, STR("{\"approval_id\":\"nope\"}"), &out, ERR), CRA_STATUS_APPROVAL_NOT_FOUND);
    EXPECT(cra_resolver_reject(r, STR("{\"approval_id\":\"nope\"}"), &out, ERR), CRA_STATUS_APPROVAL_NOT_FOUND);
    EXPECT(cra_resolver_approve(r, STR("{\"approval\":1}"), &out, ERR), CRA_STATUS_INVALID_REQUEST);
    /* approvals are per call: the fast path, which sees no parameters, stays pending */
    EXPECT(cra_resolver_check(r, STR("s1"), STR("orders.refund_large"), &v, ERR), CRA_STATUS_OK);
    CHECK(v == CRA_VERDICT_PENDING_APPROVAL);

    /* a second session: reject, then expiries through the deterministic clock */
    char res2[128], approval2[128];
    resolve_into(r, "support-bot", "s2", res2, sizeof res2);
    execute_request(req, sizeof req, "support-bot", "s2", res2, "orders.refund_large",
                    "{\"order_id\":\"ORD-1234\",\"amount\":450,\"reason\":\"damaged\"}");
    out = MUST(cra_resolver_execute, r, STR(req));
    CHECK(json_string(&out, "approval_id", approval2, sizeof approval2));
    cra_buffer_free(&out);
    char res3[128], approval3[128];
    resolve_into(r, "support-bot", "s3", res3, sizeof res3);
    execute_request(req, sizeof req, "support-bot", "s3", res3, "orders.refund_large",
                    "{\"order_id\":\"ORD-1234\",\"amount\":450,\"reason\":\"damaged\"}");
    out = MUST(cra_resolver_execute, r, STR(req));
    CHECK(json_string(&out, "approval_id", approval3, sizeof approval3));
    cra_buffer_free(&out);
    snprintf(dec, sizeof dec, "{\"approval_id\":\"%s\",\"approver\":\"sup\"}", approval2);
    out = MUST(cra_resolver_reject, r, STR(dec));
    CHECK(contains(&out, "rejected"));
    cra_buffer_free(&out);

    EXPECT(cra_resolver_advance_clock(r, -1, ERR), CRA_STATUS_INVALID_REQUEST);
    EXPECT(cra_resolver_advance_clock(r, 3601LL * 1000000, ERR), CRA_STATUS_OK);
    snprintf(dec, sizeof dec, "{\"approval_id\":\"%s\",\"approver\":\"sup\"}", approval3);
    EXPECT(cra_resolver_approve(r, STR(dec), &out, ERR), CRA_STATUS_APPROVAL_EXPIRED);
    execute_request(req, sizeof req, "support-bot", "s1", res, "orders.lookup", "{\"order_id\":\"ORD-1234\"}");
    EXPECT(cra_resolver_execute(r, STR(req), &out, ERR), CRA_STATUS_RESOLUTION_EXPIRED);
    EXPECT(cra_resolver_check(r, STR("s1"), STR("orders.lookup"), &v, ERR), CRA_STATUS_OK);
    CHECK(v == CRA_VERDICT_NO_RESOLUTION);

    /* sessions */
    out = MUST(cra_resolver_end_session, r, STR("{\"session_id\":\"s1\",\"reason\":\"done\"}"));
    CHECK(contains(&out, "\"session_id\":\"s1\""));
    cra_buffer_free(&out);
    EXPECT(cra_resolver_end_session(r, STR("{\"session_id\":\"s1\"}"), &out, ERR), CRA_STATUS_SESSION_ENDED);
    EXPECT(cra_resolver_end_session(r, STR("{\"session_id\":\"never\"}"), &out, ERR), CRA_STATUS_SESSION_NOT_FOUND);
    EXPECT(cra_resolver_end_session(r, STR("{}"), &out, ERR), CRA_STATUS_INVALID_REQUEST);
    resolve_request(req, sizeof req, "support-bot", "s1");
    EXPECT(cra_resolver_resolve(r, STR(req), &out, ERR), CRA_STATUS_SESSION_ENDED);

    /* trace: flush, stats, drain, verify (bytes and file), tamper, replay */
    EXPECT(cra_resolver_flush(r, 5000, ERR), CRA_STATUS_OK);
    out = MUST(cra_resolver_stats, r);
    CHECK(contains(&out, "\"resolves\":"));
    cra_buffer_free(&out);
    CraBuffer trace = MUST(cra_resolver_drain_trace, r);
    CHECK(trace.len > 0 && trace.ptr[trace.len - 1] == '\n');
    out = MUST(cra_trace_verify, trace.ptr, trace.len);
    CHECK(contains(&out, "\"ok\":true"));
    cra_buffer_free(&out);
    CraBuffer again = MUST(cra_resolver_drain_trace, r); /* each event is drained once */
    CHECK(again.len == 0 && again.ptr != NULL && again.ptr[0] == '\0');
    cra_buffer_free(&again);

    char *tampered = malloc(trace.len + 1);
    memcpy(tampered, trace.ptr, trace.len + 1);
    char *hit = strstr(tampered, "support-bot");
    if (hit) hit[0] = 'S';
    out = MUST(cra_trace_verify, (const uint8_t *)tampered, trace.len);
    CHECK(hit != NULL && contains(&out, "\"ok\":false"));
    cra_buffer_free(&out);

    char path[] = "/tmp/cra-test-trace-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fwrite(trace.ptr, 1, trace.len, f);
    fclose(f);
    out = MUST(cra_trace_verify_file, STR(path));
    CHECK(contains(&out, "\"ok\":true"));
    cra_buffer_free(&out);
    remove(path);
    EXPECT(cra_trace_verify_file(STR("/nonexistent/trace.jsonl"), &out, ERR), CRA_STATUS_IO_ERROR);

    /* replay the recorded requests against another atlas (an array of atlas documents) */
    char atlases[512];
    snprintf(atlases, sizeof atlases, "[%s]", TMP_ATLAS);
    out = MUST(cra_trace_replay, trace.ptr, trace.len, STR(atlases));
    CHECK(out.len > 2 && out.ptr[0] == '{');
    cra_buffer_free(&out);
    EXPECT(cra_trace_replay(trace.ptr, trace.len, STR("{}"), &out, ERR), CRA_STATUS_INVALID_REQUEST);
    {
        CraError *err = NULL;
        CHECK(cra_trace_replay(trace.ptr, trace.len, STR("[{\"atlas_id\":1}]"), &out, &err) ==
              CRA_STATUS_INVALID_ATLAS);
        CHECK(err && cra_error_pointer(err) && strncmp(cra_error_pointer(err), "/0", 2) == 0);
        cra_error_free(err);
    }
    free(tampered);
    cra_buffer_free(&trace);

    /* close keeps the handle valid until it is freed */
    EXPECT(cra_resolver_close(r, ERR), CRA_STATUS_OK);
    out = MUST(cra_resolver_stats, r);
    cra_buffer_free(&out);
    cra_resolver_free((CraResolver *)r);

    /* advance_clock outside deterministic mode */
    CraResolver *live = new_resolver("{}");
    EXPECT(cra_resolver_advance_clock(live, 1, ERR), CRA_STATUS_INVALID_REQUEST);
    cra_resolver_free(live);
}

/* ---------------------------------------------------------------- panic guard and poisoning */

static void test_panic_poisons_only_its_handle(void) {
    CraResolver *a = new_resolver("{}");
    CraResolver *b = new_resolver("{}");
    CraBuffer out;
    CraError *err = NULL;
    CHECK(cra_testing_panic(a, &err) == CRA_STATUS_PANIC);
    CHECK(err != NULL && cra_error_code(err) == CRA_STATUS_PANIC);
    CHECK(err && strstr(cra_error_message(err), "deliberate panic") != NULL);
    cra_error_free(err);
    seen[CRA_STATUS_PANIC]++;

    EXPECT(cra_resolver_stats(a, &out, ERR), CRA_STATUS_POISONED);
    EXPECT(cra_resolver_load_atlas_dir(a, STR(ATLAS_DIR), &out, ERR), CRA_STATUS_POISONED);
    CraVerdict v;
    EXPECT(cra_resolver_check(a, STR("s"), STR("x"), &v, ERR), CRA_STATUS_POISONED);
    CHECK(cra_resolver_verdict(a, STR("s"), STR("x")) == -(int32_t)CRA_STATUS_POISONED);
    EXPECT(cra_testing_panic(a, ERR), CRA_STATUS_POISONED);
    EXPECT(cra_resolver_close(a, ERR), CRA_STATUS_POISONED);

    /* the other handle is untouched */
    out = MUST(cra_resolver_load_atlas_dir, b, STR(ATLAS_DIR));
    cra_buffer_free(&out);
    out = MUST(cra_resolver_stats, b);
    cra_buffer_free(&out);
    /* the stateless functions still work */
    out = MUST(cra_trace_verify, NULL, 0);
    cra_buffer_free(&out);
    /* a poisoned handle is still freed */
    cra_resolver_free(a);
    cra_resolver_free(b);
}

/* ---------------------------------------------------------------- threads sharing one handle */

#define THREADS 6
#define ROUNDS 40

struct worker {
    const CraResolver *r;
    int id;
    int failures;
};

static void *work(void *arg) {
    struct worker *w = arg;
    char session[32], req[1024], res[128];
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(session, sizeof session, "t%d-%d", w->id, i);
        resolve_request(req, sizeof req, "support-bot", session);
        CraBuffer out;
        CraError *err = NULL;
        if (cra_resolver_resolve(w->r, STR(req), &out, &err) != CRA_STATUS_OK ||
            !json_string(&out, "resolution_id", res, sizeof res)) {
            w->failures++;
            cra_error_free(err);
            continue;
        }
        cra_buffer_free(&out);
        CraVerdict v;
        if (cra_resolver_check(w->r, STR(session), STR("orders.lookup"), &v, NULL) != CRA_STATUS_OK ||
            v != CRA_VERDICT_ALLOWED)
            w->failures++;
        execute_request(req, sizeof req, "support-bot", session, res, "orders.lookup",
                        "{\"order_id\":\"ORD-1234\"}");
        if (cra_resolver_execute(w->r, STR(req), &out, NULL) != CRA_STATUS_OK ||
            strstr((const char *)out.ptr, "\"authorized\"") == NULL)
            w->failures++;
        cra_buffer_free(&out);
    }
    return NULL;
}

static void test_threads(void) {
    CraResolver *r = new_resolver("{}");
    CraBuffer out = MUST(cra_resolver_load_atlas_dir, r, STR(ATLAS_DIR));
    cra_buffer_free(&out);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){r, i, 0};
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += w[i].failures;
    }
    CHECK(failures == 0);
    out = MUST(cra_resolver_stats, r);
    char want[64];
    snprintf(want, sizeof want, "\"resolves\":%d", THREADS * ROUNDS);
    CHECK(contains(&out, want));
    snprintf(want, sizeof want, "\"authorized\":%d", THREADS * ROUNDS);
    CHECK(contains(&out, want));
    cra_buffer_free(&out);
    CraBuffer trace = MUST(cra_resolver_drain_trace, r);
    out = MUST(cra_trace_verify, trace.ptr, trace.len);
    CHECK(contains(&out, "\"ok\":true"));
    cra_buffer_free(&out);
    cra_buffer_free(&trace);
    cra_resolver_free(r);
}

int main(int argc, char **argv) {
    if (argc > 1) ATLAS_DIR = argv[1];
    test_versions();
    test_ownership_helpers();
    test_new();
    CraResolver *r = new_resolver("{}");
    test_abi_errors_everywhere(r);
    cra_resolver_free(r);
    test_flow();
    test_panic_poisons_only_its_handle();
    test_threads();

    /* Every status the engine can produce from C was produced above. Not reachable through the
     * engine: ATLAS_ALREADY_LOADED (loads replace), ACTION_NOT_ALLOWED / RATE_LIMIT_EXCEEDED /
     * APPROVAL_REQUIRED (answers, not errors), TRACE_CHAIN_INVALID (verify reports, not fails),
     * TIMEOUT (timing-dependent), CLOSED, INTERNAL. */
    const CraStatus reachable[] = {
        CRA_STATUS_NULL_ARGUMENT,       CRA_STATUS_INVALID_UTF8,          CRA_STATUS_POISONED,
        CRA_STATUS_INVALID_REQUEST,     CRA_STATUS_INVALID_CONFIG,        CRA_STATUS_INVALID_ATLAS,
        CRA_STATUS_ATLAS_NOT_FOUND,     CRA_STATUS_RESOLUTION_NOT_FOUND,  CRA_STATUS_RESOLUTION_EXPIRED,
        CRA_STATUS_INVALID_PARAMETERS,  CRA_STATUS_APPROVAL_NOT_FOUND,    CRA_STATUS_APPROVAL_EXPIRED,
        CRA_STATUS_APPROVAL_ALREADY_DECIDED, CRA_STATUS_EXECUTION_NOT_FOUND,
        CRA_STATUS_EXECUTION_ALREADY_REPORTED, CRA_STATUS_SESSION_NOT_FOUND, CRA_STATUS_SESSION_ENDED,
        CRA_STATUS_IO_ERROR,            CRA_STATUS_PANIC,
    };
    for (size_t i = 0; i < sizeof reachable / sizeof reachable[0]; i++) {
        if (seen[reachable[i]] == 0) {
            failed++;
            fprintf(stderr, "FAIL: status %s was never produced\n", cra_status_name(reachable[i]));
        } else {
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
