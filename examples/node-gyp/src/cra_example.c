// A small Node addon in C over libcra (ffi/include/cra.h), through N-API (node_api.h).
//
//   const cra = require('./build/Release/cra_example.node');
//   const r = cra.newResolver('{}');            // an External owning a CraResolver*
//   cra.loadAtlas(r, atlasJson);                // → AtlasInfo JSON text
//   cra.resolve(r, requestJson);                // → resolution JSON text
//   cra.version(), cra.abiVersion()
// Errors are thrown as Error with `code` (e.g. "INVALID_REQUEST") and `pointer`.
// The resolver is freed when the External is garbage-collected (cra_resolver_free).
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "cra.h"

#define CALL(env, expr)                                                         \
  do {                                                                          \
    if ((expr) != napi_ok) {                                                    \
      napi_throw_error((env), "NAPI_FAILED", "N-API call failed: " #expr);      \
      return NULL;                                                              \
    }                                                                           \
  } while (0)

// Throws a JS Error for a CRA error (and frees it). Returns NULL for the caller to return.
static napi_value throw_cra(napi_env env, CraStatus status, CraError *err) {
  const char *code = err ? cra_error_code_name(err) : cra_status_name(status);
  const char *message = err ? cra_error_message(err) : cra_status_name(status);
  const char *pointer = err ? cra_error_pointer(err) : NULL;
  napi_value msg, error, code_v, pointer_v;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) == napi_ok &&
      napi_create_error(env, NULL, msg, &error) == napi_ok) {
    if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v) == napi_ok)
      napi_set_named_property(env, error, "code", code_v);
    if (pointer && napi_create_string_utf8(env, pointer, NAPI_AUTO_LENGTH, &pointer_v) == napi_ok)
      napi_set_named_property(env, error, "pointer", pointer_v);
    napi_throw(env, error);
  }
  cra_error_free(err);
  return NULL;
}

// Copies a JS string argument into a malloc'd UTF-8 buffer; *len gets its length.
static char *string_arg(napi_env env, napi_value v, size_t *len) {
  if (napi_get_value_string_utf8(env, v, NULL, 0, len) != napi_ok) {
    napi_throw_type_error(env, "INVALID_REQUEST", "expected a string");
    return NULL;
  }
  char *buf = malloc(*len + 1);
  if (!buf || napi_get_value_string_utf8(env, v, buf, *len + 1, len) != napi_ok) {
    free(buf);
    napi_throw_error(env, "INTERNAL", "out of memory");
    return NULL;
  }
  return buf;
}

// Moves an owned CraBuffer into a JS string and frees it.
static napi_value buffer_to_string(napi_env env, CraBuffer *out) {
  napi_value s;
  napi_status st = napi_create_string_utf8(env, (const char *)out->ptr, out->len, &s);
  cra_buffer_free(out);
  CALL(env, st);
  return s;
}

static void finalize_resolver(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  cra_resolver_free((CraResolver *)data);
}

static CraResolver *resolver_arg(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &data) != napi_ok) {
    napi_throw_type_error(env, "INVALID_REQUEST", "expected a resolver from newResolver()");
    return NULL;
  }
  return (CraResolver *)data;
}

static napi_value new_resolver(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t len = 0;
  char *config = argc > 0 ? string_arg(env, argv[0], &len) : calloc(1, 1);
  if (!config) return NULL;
  CraResolver *r = NULL;
  CraError *err = NULL;
  CraStatus st = cra_resolver_new((const uint8_t *)config, len, &r, &err);
  free(config);
  if (st != CRA_STATUS_OK) return throw_cra(env, st, err);
  napi_value external;
  if (napi_create_external(env, r, finalize_resolver, NULL, &external) != napi_ok) {
    cra_resolver_free(r);
    napi_throw_error(env, "INTERNAL", "cannot wrap the resolver");
    return NULL;
  }
  return external;
}

typedef CraStatus (*TextCall)(const CraResolver *, const uint8_t *, size_t, CraBuffer *, CraError **);

// (resolver, text) → JSON text, for the calls that share that shape.
static napi_value text_call(napi_env env, napi_callback_info info, TextCall call) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "INVALID_REQUEST", "expected (resolver, json)");
    return NULL;
  }
  CraResolver *r = resolver_arg(env, argv[0]);
  if (!r) return NULL;
  size_t len = 0;
  char *text = string_arg(env, argv[1], &len);
  if (!text) return NULL;
  CraBuffer out = {0};
  CraError *err = NULL;
  CraStatus st = call(r, (const uint8_t *)text, len, &out, &err);
  free(text);
  if (st != CRA_STATUS_OK) return throw_cra(env, st, err);
  return buffer_to_string(env, &out);
}

static napi_value load_atlas(napi_env env, napi_callback_info info) {
  return text_call(env, info, cra_resolver_load_atlas);
}

static napi_value resolve(napi_env env, napi_callback_info info) {
  return text_call(env, info, cra_resolver_resolve);
}

static napi_value execute(napi_env env, napi_callback_info info) {
  return text_call(env, info, cra_resolver_execute);
}

static napi_value version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  CALL(env, napi_create_string_utf8(env, cra_version(), NAPI_AUTO_LENGTH, &v));
  return v;
}

static napi_value abi_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  CALL(env, napi_create_uint32(env, cra_abi_version(), &v));
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  if (cra_abi_version() != CRA_ABI_VERSION) {
    napi_throw_error(env, "ABI_MISMATCH", "libcra's ABI version differs from ffi/include/cra.h; rebuild the addon");
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"newResolver", NULL, new_resolver, NULL, NULL, NULL, napi_default, NULL},
      {"loadAtlas", NULL, load_atlas, NULL, NULL, NULL, napi_default, NULL},
      {"resolve", NULL, resolve, NULL, NULL, NULL, napi_default, NULL},
      {"execute", NULL, execute, NULL, NULL, NULL, napi_default, NULL},
      {"version", NULL, version, NULL, NULL, NULL, napi_default, NULL},
      {"abiVersion", NULL, abi_version, NULL, NULL, NULL, napi_default, NULL},
  };
  CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
