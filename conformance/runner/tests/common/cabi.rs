//! A conformance driver over the C ABI: dlopens the real libcra (`target/release/libcra.so`, or
//! the path in `CRA_LIB`) and calls the `cra_*` symbols, exactly as a C host would.
//!
//! Include it from a test with `#[path = "common/cabi.rs"] mod cabi;` (or from `common/mod.rs`).
//! Build the library first: `make build-ffi`.

#![allow(dead_code)]

use cra_conformance::{Arg, Driver, DriverError};
use libloading::Library;
use std::ffi::{c_char, CStr};
use std::path::PathBuf;
use std::ptr;

/// The ABI version this driver was written against.
const ABI_VERSION: u32 = 1;

/// `CraBuffer` from cra.h.
#[repr(C)]
struct CraBuffer {
    ptr: *mut u8,
    len: usize,
    cap: usize,
}

impl CraBuffer {
    const fn empty() -> Self {
        CraBuffer {
            ptr: ptr::null_mut(),
            len: 0,
            cap: 0,
        }
    }
}

/// Opaque `CraResolver` / `CraError`.
#[repr(C)]
struct Opaque {
    _private: [u8; 0],
}
type Resolver = Opaque;
type Error = Opaque;

type Status = u32;
type JsonFn = unsafe extern "C" fn(
    *const Resolver,
    *const u8,
    usize,
    *mut CraBuffer,
    *mut *mut Error,
) -> Status;
type OutFn = unsafe extern "C" fn(*const Resolver, *mut CraBuffer, *mut *mut Error) -> Status;
type Json2Fn = unsafe extern "C" fn(
    *const Resolver,
    *const u8,
    usize,
    *const u8,
    usize,
    *mut CraBuffer,
    *mut *mut Error,
) -> Status;

/// The `cra_*` functions, copied out of the library (valid while `_lib` lives).
struct Api {
    abi_version: unsafe extern "C" fn() -> u32,
    resolver_new:
        unsafe extern "C" fn(*const u8, usize, *mut *mut Resolver, *mut *mut Error) -> Status,
    resolver_free: unsafe extern "C" fn(*mut Resolver),
    load_atlas: JsonFn,
    load_atlas_dir: JsonFn,
    unload_atlas: JsonFn,
    resolve: JsonFn,
    execute: JsonFn,
    report: JsonFn,
    approve: JsonFn,
    reject: JsonFn,
    end_session: JsonFn,
    list_approvals: JsonFn,
    load_shadow: JsonFn,
    unload_shadow: JsonFn,
    explain: Json2Fn,
    check: unsafe extern "C" fn(
        *const Resolver,
        *const u8,
        usize,
        *const u8,
        usize,
        *mut u32,
        *mut *mut Error,
    ) -> Status,
    flush: unsafe extern "C" fn(*const Resolver, u64, *mut *mut Error) -> Status,
    drain_trace: OutFn,
    stats: OutFn,
    advance_clock: unsafe extern "C" fn(*const Resolver, i64, *mut *mut Error) -> Status,
    trace_verify: unsafe extern "C" fn(*const u8, usize, *mut CraBuffer, *mut *mut Error) -> Status,
    trace_replay: unsafe extern "C" fn(
        *const u8,
        usize,
        *const u8,
        usize,
        *mut CraBuffer,
        *mut *mut Error,
    ) -> Status,
    buffer_free: unsafe extern "C" fn(*mut CraBuffer),
    status_name: unsafe extern "C" fn(u32) -> *const c_char,
    error_code_name: unsafe extern "C" fn(*const Error) -> *const c_char,
    error_message: unsafe extern "C" fn(*const Error) -> *const c_char,
    error_pointer: unsafe extern "C" fn(*const Error) -> *const c_char,
    error_free: unsafe extern "C" fn(*mut Error),
}

/// Where libcra is: `CRA_LIB`, else the workspace's release build.
pub fn library_path() -> PathBuf {
    std::env::var_os("CRA_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/release")
                .join(format!(
                    "{}cra{}",
                    std::env::consts::DLL_PREFIX,
                    std::env::consts::DLL_SUFFIX
                ))
        })
}

/// Runs operations through libcra's C ABI.
pub struct CabiDriver {
    api: Api,
    resolver: *mut Resolver,
    // Declared last so it is dropped after `Drop::drop` freed the resolver.
    _lib: Library,
}

fn driver_error(code: &str, message: String) -> DriverError {
    DriverError {
        code: code.into(),
        pointer: None,
        message,
    }
}

/// A borrowed C string from libcra as an owned String (empty for NULL).
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string valid for the call.
unsafe fn owned(p: *const c_char) -> Option<String> {
    // SAFETY: forwarded caller guarantee.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

impl CabiDriver {
    /// Loads libcra from [`library_path`] and checks its ABI version.
    pub fn load() -> Result<Self, String> {
        Self::load_from(&library_path())
    }

    /// Loads libcra from `path` and checks its ABI version.
    pub fn load_from(path: &std::path::Path) -> Result<Self, String> {
        // SAFETY: loading libcra runs no initializers beyond Rust's std; it is our own library.
        let lib = unsafe { Library::new(path) }.map_err(|e| {
            format!(
                "cannot load libcra from {} (run `make build-ffi`, or set CRA_LIB): {e}",
                path.display()
            )
        })?;
        macro_rules! sym {
            ($name:literal) => {{
                // SAFETY: the symbol's type is the one declared in cra.h for this name (ABI 1);
                // the copied function pointer stays valid while `lib` is loaded (it lives in Self).
                *unsafe { lib.get(concat!($name, "\0").as_bytes()) }
                    .map_err(|e| format!("libcra lacks {}: {e}", $name))?
            }};
        }
        let api = Api {
            abi_version: sym!("cra_abi_version"),
            resolver_new: sym!("cra_resolver_new"),
            resolver_free: sym!("cra_resolver_free"),
            load_atlas: sym!("cra_resolver_load_atlas"),
            load_atlas_dir: sym!("cra_resolver_load_atlas_dir"),
            unload_atlas: sym!("cra_resolver_unload_atlas"),
            resolve: sym!("cra_resolver_resolve"),
            execute: sym!("cra_resolver_execute"),
            report: sym!("cra_resolver_report"),
            approve: sym!("cra_resolver_approve"),
            reject: sym!("cra_resolver_reject"),
            end_session: sym!("cra_resolver_end_session"),
            list_approvals: sym!("cra_resolver_list_approvals"),
            load_shadow: sym!("cra_resolver_load_shadow"),
            unload_shadow: sym!("cra_resolver_unload_shadow"),
            explain: sym!("cra_resolver_explain"),
            check: sym!("cra_resolver_check"),
            flush: sym!("cra_resolver_flush"),
            drain_trace: sym!("cra_resolver_drain_trace"),
            stats: sym!("cra_resolver_stats"),
            advance_clock: sym!("cra_resolver_advance_clock"),
            trace_verify: sym!("cra_trace_verify"),
            trace_replay: sym!("cra_trace_replay"),
            buffer_free: sym!("cra_buffer_free"),
            status_name: sym!("cra_status_name"),
            error_code_name: sym!("cra_error_code_name"),
            error_message: sym!("cra_error_message"),
            error_pointer: sym!("cra_error_pointer"),
            error_free: sym!("cra_error_free"),
        };
        // SAFETY: cra_abi_version takes nothing and never fails.
        let abi = unsafe { (api.abi_version)() };
        if abi != ABI_VERSION {
            return Err(format!(
                "libcra at {} has ABI version {abi}; this driver needs {ABI_VERSION}",
                path.display()
            ));
        }
        Ok(CabiDriver {
            api,
            resolver: ptr::null_mut(),
            _lib: lib,
        })
    }

    /// Turns a status and its optional error into a result, freeing the error.
    fn status(&self, status: Status, err: *mut Error) -> Result<(), DriverError> {
        if status == 0 {
            return Ok(());
        }
        // SAFETY: `err` is NULL or the live error the failed call wrote; the strings are copied
        // before the error is freed, and the status name is static.
        unsafe {
            let code = if err.is_null() {
                owned((self.api.status_name)(status))
            } else {
                owned((self.api.error_code_name)(err))
            };
            let e = DriverError {
                code: code.unwrap_or_else(|| format!("STATUS_{status}")),
                pointer: owned((self.api.error_pointer)(err)),
                message: owned((self.api.error_message)(err)).unwrap_or_default(),
            };
            (self.api.error_free)(err);
            Err(e)
        }
    }

    /// Copies an owned buffer out and frees it.
    fn take(&self, mut buf: CraBuffer) -> Vec<u8> {
        let bytes = if buf.ptr.is_null() {
            Vec::new()
        } else {
            // SAFETY: a successful call filled `buf` with `len` readable bytes.
            unsafe { std::slice::from_raw_parts(buf.ptr, buf.len) }.to_vec()
        };
        // SAFETY: `buf` came from libcra unmodified; cra_buffer_free accepts the empty buffer.
        unsafe { (self.api.buffer_free)(&mut buf) };
        bytes
    }

    fn resolver(&self) -> Result<*const Resolver, DriverError> {
        if self.resolver.is_null() {
            Err(driver_error("INTERNAL", "no resolver".into()))
        } else {
            Ok(self.resolver)
        }
    }

    fn json(&self, f: JsonFn, input: &[u8]) -> Result<Vec<u8>, DriverError> {
        let r = self.resolver()?;
        let mut out = CraBuffer::empty();
        let mut err = ptr::null_mut();
        // SAFETY: `r` is live, `input` is borrowed for the call, `out` and `err` are valid out-params.
        let st = unsafe { f(r, input.as_ptr(), input.len(), &mut out, &mut err) };
        self.status(st, err)?;
        Ok(self.take(out))
    }

    fn output(&self, f: OutFn) -> Result<Vec<u8>, DriverError> {
        let r = self.resolver()?;
        let mut out = CraBuffer::empty();
        let mut err = ptr::null_mut();
        // SAFETY: `r` is live; `out` and `err` are valid out-params.
        let st = unsafe { f(r, &mut out, &mut err) };
        self.status(st, err)?;
        Ok(self.take(out))
    }

    fn free_resolver(&mut self) {
        if !self.resolver.is_null() {
            // SAFETY: the handle came from cra_resolver_new and is freed once (then cleared).
            unsafe { (self.api.resolver_free)(self.resolver) };
            self.resolver = ptr::null_mut();
        }
    }
}

impl Drop for CabiDriver {
    fn drop(&mut self) {
        self.free_resolver();
    }
}

fn arg(args: &[Arg], i: usize) -> &[u8] {
    args.get(i).map(Arg::bytes).unwrap_or_default()
}

const VERDICTS: [&str; 5] = [
    "allowed",
    "denied",
    "pending_approval",
    "rate_limited",
    "no_resolution",
];

impl Driver for CabiDriver {
    fn name(&self) -> &str {
        "c-abi"
    }

    fn create(&mut self, config: &[u8]) -> Result<(), DriverError> {
        self.free_resolver();
        let mut r = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: `config` is borrowed for the call; `r` and `err` are valid out-params.
        let st =
            unsafe { (self.api.resolver_new)(config.as_ptr(), config.len(), &mut r, &mut err) };
        self.status(st, err)?;
        self.resolver = r;
        Ok(())
    }

    fn call(&mut self, op: &str, args: &[Arg]) -> Result<Vec<u8>, DriverError> {
        match op {
            "load_atlas" => self.json(self.api.load_atlas, arg(args, 0)),
            "load_atlas_dir" => self.json(self.api.load_atlas_dir, arg(args, 0)),
            "unload_atlas" => self.json(self.api.unload_atlas, arg(args, 0)),
            "resolve" => self.json(self.api.resolve, arg(args, 0)),
            "execute" => self.json(self.api.execute, arg(args, 0)),
            "report" => self.json(self.api.report, arg(args, 0)),
            "approve" => self.json(self.api.approve, arg(args, 0)),
            "reject" => self.json(self.api.reject, arg(args, 0)),
            "end_session" => self.json(self.api.end_session, arg(args, 0)),
            "approvals" => self.json(self.api.list_approvals, arg(args, 0)),
            "load_shadow" => self.json(self.api.load_shadow, arg(args, 0)),
            "unload_shadow" => self.json(self.api.unload_shadow, arg(args, 0)),
            "explain" => {
                let r = self.resolver()?;
                let (q, act) = (arg(args, 0), arg(args, 1));
                let mut out = CraBuffer::empty();
                let mut err = ptr::null_mut();
                // SAFETY: `r` is live; both inputs are borrowed for the call; out-params valid.
                let st = unsafe {
                    (self.api.explain)(
                        r,
                        q.as_ptr(),
                        q.len(),
                        act.as_ptr(),
                        act.len(),
                        &mut out,
                        &mut err,
                    )
                };
                self.status(st, err)?;
                Ok(self.take(out))
            }
            "drain_trace" => self.output(self.api.drain_trace),
            "stats" => self.output(self.api.stats),
            "check" => {
                let r = self.resolver()?;
                let (s, act) = (arg(args, 0), arg(args, 1));
                let mut v = u32::MAX;
                let mut err = ptr::null_mut();
                // SAFETY: `r` is live; both inputs are borrowed for the call; out-params valid.
                let st = unsafe {
                    (self.api.check)(
                        r,
                        s.as_ptr(),
                        s.len(),
                        act.as_ptr(),
                        act.len(),
                        &mut v,
                        &mut err,
                    )
                };
                self.status(st, err)?;
                let name = VERDICTS
                    .get(v as usize)
                    .ok_or_else(|| driver_error("INTERNAL", format!("unknown verdict {v}")))?;
                Ok(format!("\"{name}\"").into_bytes())
            }
            "flush" => {
                let r = self.resolver()?;
                let mut err = ptr::null_mut();
                // SAFETY: `r` is live; `err` is a valid out-param.
                let st = unsafe { (self.api.flush)(r, 10_000, &mut err) };
                self.status(st, err).map(|_| b"null".to_vec())
            }
            "advance_clock" => {
                let r = self.resolver()?;
                let micros = std::str::from_utf8(arg(args, 0))
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .unwrap_or(-1);
                let mut err = ptr::null_mut();
                // SAFETY: `r` is live; `err` is a valid out-param.
                let st = unsafe { (self.api.advance_clock)(r, micros, &mut err) };
                self.status(st, err).map(|_| b"null".to_vec())
            }
            "verify_trace" => {
                let t = arg(args, 0);
                let mut out = CraBuffer::empty();
                let mut err = ptr::null_mut();
                // SAFETY: the input is borrowed for the call; out-params valid.
                let st =
                    unsafe { (self.api.trace_verify)(t.as_ptr(), t.len(), &mut out, &mut err) };
                self.status(st, err)?;
                Ok(self.take(out))
            }
            "replay" => {
                let (t, atlases) = (arg(args, 0), arg(args, 1));
                let mut out = CraBuffer::empty();
                let mut err = ptr::null_mut();
                // SAFETY: both inputs are borrowed for the call; out-params valid.
                let st = unsafe {
                    (self.api.trace_replay)(
                        t.as_ptr(),
                        t.len(),
                        atlases.as_ptr(),
                        atlases.len(),
                        &mut out,
                        &mut err,
                    )
                };
                self.status(st, err)?;
                Ok(self.take(out))
            }
            other => Err(driver_error("INTERNAL", format!("unknown op {other:?}"))),
        }
    }

    fn close(&mut self) {
        self.free_resolver();
    }
}
