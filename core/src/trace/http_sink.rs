//! The HTTP sink (`sink: "http"`, feature `http-sink`): canonical JSONL batches POSTed to a
//! receiver (protocol.md §7), compressed, retried with capped exponential backoff and jitter,
//! spooled to a bounded directory while the receiver is down, resent in order after a restart.
//!
//! Threads: the collector's thread calls [`TraceSink::write_batch`], which only appends to an open
//! batch and, when a batch is full, hands it to a bounded in-memory queue — or, when that is full
//! (or the receiver is down), writes it to a spool segment. A dedicated sender thread compresses
//! and POSTs batches in order. Every batch has a sequence number; the queue holds them in that
//! order wherever their bytes live (memory or disk), so delivery order is recording order.
//! With `receipts_file`, a third thread (`cra-trace-receipts`) turns acknowledged batches into
//! receipts (the first signed checkpoint of the receiver's transparency log covering the batch,
//! with inclusion proofs) from a bounded queue the sender only appends to.
//!
//! The HTTP/1.1 client is a small one over `std::net::TcpStream` (and rustls for `https`): one
//! POST with a `Content-Length` body, a response framed by `Content-Length`, chunked encoding or
//! end of stream, keep-alive reuse. See docs/trace.md, "HTTP sink".

use super::config::FsyncPolicy;
use super::processor::Counters;
use super::sink::TraceSink;
use crate::error::{CraError, ErrorCode};
use parking_lot::{Condvar, Mutex};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

// --- configuration ------------------------------------------------------------------------------

/// Body compression (`Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip (RFC 1952), fast level; the default.
    #[default]
    Gzip,
    /// No compression (no `Content-Encoding` header).
    None,
}

/// Settings of the HTTP sink (`trace.http`). Unknown fields are rejected; each bound is checked
/// with a JSON pointer (`/http/<field>`, `/trace/http/<field>` in a resolver config).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Where batches are POSTed: `http://` or `https://` host, optional port and path (required).
    pub url: String,
    /// Bearer token sent as `Authorization: Bearer <token>` (visible ASCII, at most 4096 bytes).
    pub token: Option<String>,
    /// Name of an environment variable holding the token, read when the resolver is created
    /// (instead of `token`; not both).
    pub token_env: Option<String>,
    /// Most events per POST (default 512, 1 to 100000).
    pub batch_max_events: u32,
    /// Most uncompressed bytes per POST (default 4 MiB, 1 KiB to 64 MiB); a single larger event
    /// is sent alone.
    pub batch_max_bytes: u32,
    /// Longest an event waits for its batch to fill, in ms (default 1000, 1 to 600000).
    pub batch_max_delay_ms: u32,
    /// `gzip` (default) or `none`.
    pub compression: Compression,
    /// Connect timeout and socket read/write timeout of a request, in ms (default 10000,
    /// 100 to 600000).
    pub timeout_ms: u32,
    /// Failed attempts of one batch after which the receiver counts as down: queued batches go to
    /// the spool and new ones are spooled until a request succeeds (default 5, at most 1000).
    /// Retryable failures are retried for as long as it takes, at the capped backoff.
    pub max_retries: u32,
    /// First backoff after a failed attempt, in ms (default 100, 1 to 600000); it doubles per
    /// failure, with jitter, up to `backoff_max_ms`. A `Retry-After` answer overrides it.
    pub backoff_initial_ms: u32,
    /// Backoff cap in ms (default 30000, from `backoff_initial_ms` to 3600000).
    pub backoff_max_ms: u32,
    /// Sealed batches held in memory for the sender (default 16, 1 to 1024); when they are all
    /// taken, batches go to the spool (or, without one, the sink reports no room).
    pub queue_max_batches: u32,
    /// Directory of spool segments (created if missing; one resolver at a time). Without it,
    /// nothing is kept on disk: an unreachable receiver makes the sink full.
    pub spool_dir: Option<String>,
    /// Bound of the spool, in bytes of uncompressed JSONL (default 256 MiB, 64 KiB to 1 TiB).
    pub spool_max_bytes: u64,
    /// A PEM file of extra trusted root certificates for `https` (private CAs), added to the
    /// bundled Mozilla roots.
    pub ca_file: Option<String>,
    /// Receipts (docs/transparency.md §8): a JSONL file where, for every delivered batch, a
    /// separate thread appends the first signed checkpoint of the receiver's transparency log
    /// that covers the batch, with the inclusion proofs of its events. Needs a `cra serve`
    /// receiver (`url` ending in `/v1/traces`) and a token with the `read` right. Off by default.
    pub receipts_file: Option<String>,
    /// Delivered batches waiting for their receipt (default 1000, 1 to 100000); a batch delivered
    /// while this many wait gets no receipt (counted in `receipts_failed`).
    pub receipts_max_pending: u32,
    /// Bound of the receipts file in bytes (default 256 MiB, 64 KiB to 1 TiB); once reached,
    /// further receipts are not written (counted in `receipts_failed`).
    pub receipts_max_bytes: u64,
    /// Longest a receipt waits for a checkpoint covering its batch, in ms (default 600000, 1000
    /// to 86400000); then it is given up (`receipts_failed`).
    pub receipts_max_wait_ms: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            url: String::new(),
            token: None,
            token_env: None,
            batch_max_events: 512,
            batch_max_bytes: 4 << 20,
            batch_max_delay_ms: 1000,
            compression: Compression::Gzip,
            timeout_ms: 10_000,
            max_retries: 5,
            backoff_initial_ms: 100,
            backoff_max_ms: 30_000,
            queue_max_batches: 16,
            spool_dir: None,
            spool_max_bytes: 256 << 20,
            ca_file: None,
            receipts_file: None,
            receipts_max_pending: 1000,
            receipts_max_bytes: 256 << 20,
            receipts_max_wait_ms: 600_000,
        }
    }
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_env", &self.token_env)
            .field("batch_max_events", &self.batch_max_events)
            .field("batch_max_bytes", &self.batch_max_bytes)
            .field("batch_max_delay_ms", &self.batch_max_delay_ms)
            .field("compression", &self.compression)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_retries", &self.max_retries)
            .field("backoff_initial_ms", &self.backoff_initial_ms)
            .field("backoff_max_ms", &self.backoff_max_ms)
            .field("queue_max_batches", &self.queue_max_batches)
            .field("spool_dir", &self.spool_dir)
            .field("spool_max_bytes", &self.spool_max_bytes)
            .field("ca_file", &self.ca_file)
            .field("receipts_file", &self.receipts_file)
            .field("receipts_max_pending", &self.receipts_max_pending)
            .field("receipts_max_bytes", &self.receipts_max_bytes)
            .field("receipts_max_wait_ms", &self.receipts_max_wait_ms)
            .finish()
    }
}

/// `trace.http`: an object or `null`, never an array (serde would read a struct by position).
pub(crate) fn deserialize_opt<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<HttpConfig>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<HttpConfig>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object (the HTTP sink settings) or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_map(V)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            HttpConfig::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_option(V)
}

impl HttpConfig {
    /// Checks every field's bound; errors point at `/http/<field>`.
    pub fn validate(&self) -> Result<(), CraError> {
        let bad = |field: &str, msg: String| {
            Err(CraError::at(
                ErrorCode::InvalidConfig,
                format!("/http/{field}"),
                msg,
            ))
        };
        if let Err(m) = Target::parse(&self.url) {
            return bad("url", m);
        }
        if self.token.is_some() && self.token_env.is_some() {
            return bad("token_env", "give token or token_env, not both".into());
        }
        if let Some(t) = &self.token {
            if let Err(m) = check_token(t) {
                return bad("token", m);
            }
        }
        if let Some(e) = &self.token_env {
            if e.is_empty() || e.contains(['=', '\0']) {
                return bad(
                    "token_env",
                    format!("token_env {e:?} is not an environment variable name"),
                );
            }
        }
        let ranges: [(&str, u64, u64, u64); 10] = [
            ("batch_max_events", self.batch_max_events.into(), 1, 100_000),
            (
                "batch_max_bytes",
                self.batch_max_bytes.into(),
                1024,
                64 << 20,
            ),
            (
                "batch_max_delay_ms",
                self.batch_max_delay_ms.into(),
                1,
                600_000,
            ),
            ("timeout_ms", self.timeout_ms.into(), 100, 600_000),
            ("max_retries", self.max_retries.into(), 0, 1000),
            (
                "backoff_initial_ms",
                self.backoff_initial_ms.into(),
                1,
                600_000,
            ),
            (
                "backoff_max_ms",
                self.backoff_max_ms.into(),
                self.backoff_initial_ms.into(),
                3_600_000,
            ),
            ("queue_max_batches", self.queue_max_batches.into(), 1, 1024),
            (
                "receipts_max_pending",
                self.receipts_max_pending.into(),
                1,
                100_000,
            ),
            (
                "receipts_max_wait_ms",
                self.receipts_max_wait_ms.into(),
                1000,
                86_400_000,
            ),
        ];
        for (name, v, lo, hi) in ranges {
            if v < lo || v > hi {
                return bad(
                    name,
                    format!("{name} must be between {lo} and {hi}, got {v}"),
                );
            }
        }
        if !(64 << 10..=1 << 40).contains(&self.spool_max_bytes) {
            return bad(
                "spool_max_bytes",
                format!(
                    "spool_max_bytes must be between 65536 and 1099511627776, got {}",
                    self.spool_max_bytes
                ),
            );
        }
        if !(64 << 10..=1 << 40).contains(&self.receipts_max_bytes) {
            return bad(
                "receipts_max_bytes",
                format!(
                    "receipts_max_bytes must be between 65536 and 1099511627776, got {}",
                    self.receipts_max_bytes
                ),
            );
        }
        for (name, v) in [
            ("spool_dir", &self.spool_dir),
            ("ca_file", &self.ca_file),
            ("receipts_file", &self.receipts_file),
        ] {
            if v.as_deref() == Some("") {
                return bad(name, format!("{name} must not be empty"));
            }
        }
        if self.receipts_file.is_some() {
            if let Err(m) = Target::parse(&self.url).and_then(|t| log_prefix(&t.path)) {
                return bad("receipts_file", m);
            }
        }
        Ok(())
    }
}

fn check_token(t: &str) -> Result<(), String> {
    if t.is_empty() || t.len() > 4096 {
        return Err(format!(
            "the token must be 1 to 4096 bytes, got {}",
            t.len()
        ));
    }
    if !t.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("the token may hold only visible ASCII characters (no spaces)".into());
    }
    Ok(())
}

// --- URL ----------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    /// `Host` header: the URL's authority as written.
    authority: String,
    /// Request target: path and query.
    path: String,
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    s.get(..p.len())
        .filter(|h| h.eq_ignore_ascii_case(p))
        .map(|_| &s[p.len()..])
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let (tls, rest) = if let Some(r) = strip_prefix_ci(url, "https://") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(url, "http://") {
            (false, r)
        } else {
            return Err(format!("url {url:?} must start with http:// or https://"));
        };
        if rest.bytes().any(|b| b <= 0x20 || b >= 0x7f) {
            return Err(format!(
                "url {url:?} has a space, a control or a non-ASCII character (percent-encode it)"
            ));
        }
        if rest.contains('#') {
            return Err(format!("url {url:?} must not have a fragment"));
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err("credentials in the url are not supported: use token or token_env".into());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let close = v6
                .find(']')
                .ok_or_else(|| format!("url {url:?}: unclosed [ in the host"))?;
            let h = &v6[..close];
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("url {url:?}: {h:?} is not an IPv6 address"));
            }
            let after = &v6[close + 1..];
            let port = if after.is_empty() {
                None
            } else if let Some(p) = after.strip_prefix(':') {
                Some(p)
            } else {
                return Err(format!("url {url:?}: unexpected {after:?} after the host"));
            };
            (h, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("url {url:?} has no host"));
        }
        if !authority.starts_with('[')
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(format!("url {url:?}: {host:?} is not a host name"));
        }
        let port = match port {
            None => {
                if tls {
                    443
                } else {
                    80
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("url {url:?}: {p:?} is not a port (1 to 65535)")),
            },
        };
        let path = if tail.is_empty() {
            "/".to_string()
        } else if tail.starts_with('?') {
            format!("/{tail}")
        } else {
            tail.to_string()
        };
        Ok(Target {
            tls,
            host: host.to_string(),
            port,
            authority: authority.to_string(),
            path,
        })
    }
}

// --- HTTP/1.1 client ----------------------------------------------------------------------------

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// What a receiver answered.
#[derive(Debug)]
struct Response {
    status: u16,
    retry_after: Option<Duration>,
    /// The start of the body, for error messages.
    body: Vec<u8>,
    keep_alive: bool,
}

/// A failed exchange. `fresh` is false when nothing was read back, so on a reused connection the
/// request is tried once more on a new one (the server may have closed an idle connection).
struct PostError {
    msg: String,
    nothing_read: bool,
}

/// Longest Retry-After honoured.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(600);
/// Body bytes kept for error messages.
const BODY_KEEP: usize = 512;
/// Response bodies longer than this are not drained (the connection is closed instead).
const BODY_DRAIN_MAX: u64 = 1 << 20;
const LINE_MAX: usize = 16 << 10;
const HEADERS_MAX: usize = 200;

struct Client {
    target: Target,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    /// The header lines that never change (Host … Authorization), CRLF-terminated.
    fixed_headers: String,
    conn: Option<BufReader<Stream>>,
    /// Body bytes kept from an answer (`BODY_KEEP`; whole answers up to `BODY_DRAIN_MAX` when
    /// the answer is read, as for receipts).
    keep: usize,
}

impl Client {
    fn new(
        target: Target,
        tls: Option<Arc<rustls::ClientConfig>>,
        timeout: Duration,
        token: Option<&str>,
        compression: Compression,
    ) -> Client {
        Client::with_type(
            target,
            tls,
            timeout,
            token,
            compression,
            "application/x-ndjson",
        )
    }

    fn with_type(
        target: Target,
        tls: Option<Arc<rustls::ClientConfig>>,
        timeout: Duration,
        token: Option<&str>,
        compression: Compression,
        content_type: &str,
    ) -> Client {
        let mut h = format!(
            "Host: {}\r\nUser-Agent: cra/{}\r\nContent-Type: {content_type}\r\n",
            target.authority,
            env!("CARGO_PKG_VERSION")
        );
        if compression == Compression::Gzip {
            h.push_str("Content-Encoding: gzip\r\n");
        }
        if let Some(t) = token {
            h.push_str("Authorization: Bearer ");
            h.push_str(t);
            h.push_str("\r\n");
        }
        Client {
            target,
            tls,
            timeout,
            fixed_headers: h,
            conn: None,
            keep: BODY_KEEP,
        }
    }

    fn connect(&self) -> io::Result<BufReader<Stream>> {
        let addrs = (self.target.host.as_str(), self.target.port).to_socket_addrs()?;
        let mut last = None;
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = match tcp {
            Some(t) => t,
            None => {
                return Err(last.unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "the host has no address")
                }))
            }
        };
        tcp.set_read_timeout(Some(self.timeout))?;
        tcp.set_write_timeout(Some(self.timeout))?;
        tcp.set_nodelay(true)?;
        let stream = match &self.tls {
            Some(cfg) => {
                let name = rustls::pki_types::ServerName::try_from(self.target.host.clone())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let conn = rustls::ClientConnection::new(cfg.clone(), name)
                    .map_err(|e| io::Error::other(format!("TLS: {e}")))?;
                let mut s = rustls::StreamOwned::new(conn, tcp);
                // Handshake now, so a certificate problem is reported as such.
                while s.conn.is_handshaking() {
                    s.conn
                        .complete_io(&mut s.sock)
                        .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake: {e}")))?;
                }
                Stream::Tls(Box::new(s))
            }
            None => Stream::Plain(tcp),
        };
        Ok(BufReader::with_capacity(16 << 10, stream))
    }

    /// POSTs `body`; `Err` is a network or protocol error (retryable).
    fn post(&mut self, body: &[u8]) -> Result<Response, String> {
        let path = self.target.path.clone();
        self.request("POST", &path, body)
    }

    /// One request to `path` on the same host; `Err` is a network or protocol error.
    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<Response, String> {
        let reused = self.conn.is_some();
        match self.try_request(method, path, body) {
            Ok(r) => Ok(r),
            Err(e) if reused && e.nothing_read => {
                self.try_request(method, path, body).map_err(|e| e.msg)
            }
            Err(e) => Err(e.msg),
        }
    }

    fn try_request(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Response, PostError> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().map_err(|e| PostError {
                msg: format!(
                    "cannot connect to {}:{}: {e}",
                    self.target.host, self.target.port
                ),
                nothing_read: false,
            })?,
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\n{}Content-Length: {}\r\n\r\n",
            self.fixed_headers,
            body.len()
        );
        let sent = {
            let w = conn.get_mut();
            w.write_all(head.as_bytes())
                .and_then(|_| w.write_all(body))
                .and_then(|_| w.flush())
        };
        if let Err(e) = sent {
            return Err(PostError {
                msg: format!("sending the batch failed: {e}"),
                nothing_read: true,
            });
        }
        let resp = read_response(&mut conn, self.keep)?;
        if resp.keep_alive {
            self.conn = Some(conn);
        }
        Ok(resp)
    }
}

/// Reads one line (LF-terminated, CR stripped), at most `LINE_MAX` bytes. `None` at EOF.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return if out.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed mid-line",
                ))
            };
        }
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        out.extend_from_slice(&buf[..take]);
        r.consume(take);
        if out.len() > LINE_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response line too long",
            ));
        }
        if done {
            out.pop();
            if out.last() == Some(&b'\r') {
                out.pop();
            }
            return Ok(Some(out));
        }
    }
}

/// Reads `n` body bytes, keeping the first `keep`.
fn read_body(r: &mut impl Read, n: u64, kept: &mut Vec<u8>, keep: usize) -> io::Result<()> {
    let mut left = n;
    let mut buf = [0u8; 8192];
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let got = r.read(&mut buf[..want])?;
        if got == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed mid-body",
            ));
        }
        let room = keep.saturating_sub(kept.len()).min(got);
        kept.extend_from_slice(&buf[..room]);
        left -= got as u64;
    }
    Ok(())
}

fn read_response(r: &mut BufReader<Stream>, keep: usize) -> Result<Response, PostError> {
    let mut nothing_read = true;
    let err = |msg: String, nothing: bool| PostError {
        msg,
        nothing_read: nothing,
    };
    loop {
        let line = match read_line(r) {
            Ok(Some(l)) => l,
            Ok(None) => {
                return Err(err(
                    "the receiver closed the connection without answering".into(),
                    nothing_read,
                ))
            }
            Err(e) => return Err(err(format!("reading the answer failed: {e}"), nothing_read)),
        };
        nothing_read = false;
        let text = String::from_utf8_lossy(&line);
        let mut parts = text.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let status = parts.next().and_then(|s| {
            (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u16>().ok())
                .flatten()
        });
        let (Some(status), true) = (status, version.starts_with("HTTP/1.")) else {
            return Err(err(
                format!("not an HTTP/1.x answer: {:?}", truncate(&text, 80)),
                false,
            ));
        };
        let http10 = version == "HTTP/1.0";
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut close = http10;
        let mut retry_after = None;
        let mut n = 0;
        loop {
            let h = match read_line(r) {
                Ok(Some(h)) => h,
                Ok(None) => return Err(err("connection closed in the headers".into(), false)),
                Err(e) => return Err(err(format!("reading the headers failed: {e}"), false)),
            };
            if h.is_empty() {
                break;
            }
            n += 1;
            if n > HEADERS_MAX {
                return Err(err("too many response headers".into(), false));
            }
            let h = String::from_utf8_lossy(&h);
            let Some((name, value)) = h.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let name = name.trim();
            if name.eq_ignore_ascii_case("content-length") {
                match value.parse::<u64>() {
                    Ok(v) => content_length = Some(v),
                    Err(_) => return Err(err(format!("bad Content-Length {value:?}"), false)),
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
            } else if name.eq_ignore_ascii_case("connection") {
                for t in value.split(',') {
                    if t.trim().eq_ignore_ascii_case("close") {
                        close = true;
                    } else if t.trim().eq_ignore_ascii_case("keep-alive") && http10 {
                        close = false;
                    }
                }
            } else if name.eq_ignore_ascii_case("retry-after") {
                retry_after = parse_retry_after(value, SystemTime::now());
            }
        }
        if (100..200).contains(&status) {
            // An interim answer (100 Continue, 103 Early Hints): the real one follows.
            continue;
        }
        let mut body = Vec::new();
        let mut keep_alive = !close;
        let res = if status == 204 || status == 304 {
            Ok(())
        } else if chunked {
            read_chunked(r, &mut body, keep)
        } else if let Some(len) = content_length {
            if len > BODY_DRAIN_MAX {
                keep_alive = false;
                read_body(r, BODY_KEEP as u64, &mut body, BODY_KEEP)
            } else {
                read_body(r, len, &mut body, keep)
            }
        } else {
            keep_alive = false;
            let mut rest = Vec::new();
            r.by_ref()
                .take(BODY_DRAIN_MAX)
                .read_to_end(&mut rest)
                .map(|_| body.extend_from_slice(&rest[..rest.len().min(keep)]))
        };
        if res.is_err() {
            // The status is known; only the connection is unusable.
            keep_alive = false;
        }
        return Ok(Response {
            status,
            retry_after,
            body,
            keep_alive,
        });
    }
}

fn read_chunked(r: &mut BufReader<Stream>, kept: &mut Vec<u8>, keep: usize) -> io::Result<()> {
    let mut total = 0u64;
    loop {
        let line = read_line(r)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-body")
        })?;
        let text = String::from_utf8_lossy(&line);
        let hex = text.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(hex, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while let Some(l) = read_line(r)? {
                if l.is_empty() {
                    break;
                }
            }
            return Ok(());
        }
        total += size;
        if total > BODY_DRAIN_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response body too long",
            ));
        }
        read_body(r, size, kept, keep)?;
        read_line(r)?;
    }
}

fn truncate(s: &str, n: usize) -> &str {
    let mut end = s.len().min(n);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `Retry-After`: delay seconds or an HTTP date (RFC 9110 §10.2.3), capped at 10 minutes.
fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    let d = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let t = httpdate::parse_http_date(v).ok()?;
        t.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(d.min(RETRY_AFTER_CAP))
}

/// Statuses worth retrying (protocol.md §7); other statuses outside 2xx are permanent.
fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 502 | 503 | 504)
}

/// Backoff before attempt `failures + 1`: `initial · 2^(failures-1)`, capped, with jitter in
/// [d/2, d].
fn backoff(failures: u32, initial: Duration, max: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    let d = initial.saturating_mul(1u32 << exp).min(max);
    let half = d / 2;
    half + Duration::from_nanos(fastrand::u64(0..=(d - half).as_nanos() as u64))
}

fn tls_config(ca_file: Option<&str>) -> Result<Arc<rustls::ClientConfig>, CraError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        use rustls::pki_types::pem::PemObject;
        let bad = |m: String| CraError::at(ErrorCode::InvalidConfig, "/http/ca_file", m);
        let pem = fs::read(path).map_err(|e| bad(format!("cannot read ca_file {path:?}: {e}")))?;
        let mut n = 0;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| bad(format!("ca_file {path:?}: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| bad(format!("ca_file {path:?}: {e}")))?;
            n += 1;
        }
        if n == 0 {
            return Err(bad(format!("ca_file {path:?} holds no PEM certificate")));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CraError::new(ErrorCode::Internal, format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

fn compress(raw: &[u8], c: Compression) -> Vec<u8> {
    match c {
        Compression::None => raw.to_vec(),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(raw.len() / 3 + 64),
                flate2::Compression::fast(),
            );
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(raw);
            enc.finish().unwrap_or_default()
        }
    }
}

// --- spool --------------------------------------------------------------------------------------

/// The spool directory: segments `<seq, 20 digits>.jsonl`, each the exact JSONL of one batch.
struct Spool {
    dir: PathBuf,
    fsync: bool,
    max_bytes: u64,
    /// Held (with an exclusive advisory lock on `.lock`) while the sink lives.
    _lock: File,
}

/// A segment found when the spool was opened.
struct Found {
    seq: u64,
    events: u64,
    bytes: u64,
}

#[derive(Deserialize)]
struct LineHead<'a> {
    #[serde(borrow)]
    trace_id: std::borrow::Cow<'a, str>,
    #[allow(dead_code)]
    #[serde(borrow)]
    event_hash: std::borrow::Cow<'a, str>,
    #[allow(dead_code)]
    sequence: u64,
}

impl Spool {
    fn open(dir: &Path, fsync: bool, max_bytes: u64) -> io::Result<(Spool, Vec<Found>, u64)> {
        fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => io::Error::new(
                io::ErrorKind::WouldBlock,
                "another resolver or process is using this spool directory",
            ),
            std::fs::TryLockError::Error(e) => e,
        })?;
        let mut seqs = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(stem) = name.strip_suffix(".jsonl") {
                if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
                    if let Ok(seq) = stem.parse::<u64>() {
                        seqs.push(seq);
                    }
                }
            }
        }
        seqs.sort_unstable();
        let spool = Spool {
            dir: dir.to_path_buf(),
            fsync,
            max_bytes,
            _lock: lock,
        };
        let mut found = Vec::new();
        let mut truncated = 0;
        for seq in seqs {
            let (events, bytes, cut) = spool.repair(seq)?;
            truncated += cut;
            if events == 0 {
                let _ = fs::remove_file(spool.path(seq));
            } else {
                found.push(Found { seq, events, bytes });
            }
        }
        Ok((spool, found, truncated))
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.jsonl"))
    }

    /// Like the file sink's repair: a last line without LF, or a last line that is not an event,
    /// is a torn write and is cut away. Returns (events, bytes kept, bytes cut).
    fn repair(&self, seq: u64) -> io::Result<(u64, u64, u64)> {
        let path = self.path(seq);
        let data = fs::read(&path)?;
        let mut good = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if good > 0 {
            let start = data[..good - 1]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            if serde_json::from_slice::<LineHead<'_>>(&data[start..good - 1]).is_err() {
                good = start;
            }
        }
        let cut = (data.len() - good) as u64;
        if cut > 0 {
            let f = OpenOptions::new().write(true).open(&path)?;
            f.set_len(good as u64)?;
            f.sync_all()?;
        }
        let events = memchr::memchr_iter(b'\n', &data[..good]).count() as u64;
        Ok((events, good as u64, cut))
    }

    fn write(&self, seq: u64, data: &[u8]) -> io::Result<()> {
        let path = self.path(seq);
        let res = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            f.write_all(data)?;
            if self.fsync {
                f.sync_data()?;
            }
            Ok(())
        })();
        if res.is_err() {
            let _ = fs::remove_file(&path);
        }
        res
    }

    fn sync_dir(&self) -> io::Result<()> {
        if self.fsync {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }

    fn read(&self, seq: u64) -> io::Result<Vec<u8>> {
        fs::read(self.path(seq))
    }

    fn remove(&self, seq: u64) {
        let _ = fs::remove_file(self.path(seq));
    }
}

// --- shared state -------------------------------------------------------------------------------

/// HTTP sink counters (`stats().http`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HttpStats {
    /// Batches acknowledged with a 2xx.
    pub sent_batches: u64,
    /// Events in those batches.
    pub sent_events: u64,
    /// Bytes of those request bodies (compressed).
    pub sent_bytes: u64,
    /// Failed attempts that will be retried (network errors, 408, 429, 502, 503, 504).
    pub retried: u64,
    /// Events written to the spool by this sink (a counter).
    pub spooled_events: u64,
    /// Events in the spool now, including segments left by an earlier run.
    pub spool_events: u64,
    /// Bytes in the spool now.
    pub spool_bytes: u64,
    /// Events held in memory for the sender (sealed batches and the open one).
    pub queued_events: u64,
    /// Batches the receiver refused with a permanent status (their events are `dropped`).
    pub rejected_batches: u64,
    /// Events lost after the sink accepted them: refused batches, unreadable spool segments,
    /// batches still unsent when a sink without a spool closed.
    pub dropped: u64,
    /// Bytes cut from torn spool segments when the spool was opened.
    pub spool_repaired_bytes: u64,
    /// The last HTTP status received, if any.
    pub last_status: Option<u16>,
    /// Receipts written to `receipts_file` (docs/transparency.md §8).
    pub receipts_written: u64,
    /// Delivered batches waiting for their receipt now.
    pub receipts_pending: u64,
    /// Receipts given up: no covering checkpoint within `receipts_max_wait_ms`, the pending or
    /// file bound reached, a malformed answer, a write error.
    pub receipts_failed: u64,
    /// Delivered batches without a receipt because the receiver keeps no log for this token
    /// (no log positions in its answer, or 404/401/403 from `/v1/log/...`).
    pub receipts_unavailable: u64,
    /// Why the last receipt failed or was unavailable, if one did.
    pub receipts_last_error: Option<String>,
}

struct Entry {
    seq: u64,
    events: u64,
    bytes: u64,
    /// The bytes while the batch is in memory.
    ram: Option<Arc<Vec<u8>>>,
    on_disk: bool,
}

#[derive(Default)]
struct State {
    entries: VecDeque<Entry>,
    ram_batches: usize,
    ram_events: u64,
    open: Vec<u8>,
    open_events: u64,
    open_since: Option<Instant>,
    next_seq: u64,
    spool_bytes: u64,
    spool_events: u64,
    /// A batch found no room in the spool; `room()` says 0 until a segment is acknowledged.
    spool_full: bool,
    /// The last attempt failed.
    failing: bool,
    /// The head batch failed more than `max_retries` times: new batches go to the spool.
    down: bool,
    failures: u32,
    retry_at: Option<Instant>,
    stop: bool,
    /// Refused events per trace id, for `trace.gap` events.
    lost: HashMap<String, u64>,
    /// Running totals for the bytes-per-event estimate.
    seen_bytes: u64,
    seen_events: u64,
}

struct Settings {
    batch_max_events: u64,
    batch_max_bytes: usize,
    batch_max_delay: Duration,
    timeout: Duration,
    max_retries: u32,
    backoff_initial: Duration,
    backoff_max: Duration,
    queue_max_batches: usize,
    compression: Compression,
}

#[derive(Default)]
struct Atomics {
    sent_batches: AtomicU64,
    sent_events: AtomicU64,
    sent_bytes: AtomicU64,
    retried: AtomicU64,
    spooled_events: AtomicU64,
    rejected_batches: AtomicU64,
    dropped: AtomicU64,
    repaired: AtomicU64,
    /// 0 = none yet.
    last_status: AtomicU64,
}

/// What the collector keeps to read the sink's counters.
pub(crate) struct HttpShared {
    state: Mutex<State>,
    /// Wakes the sender (a sealed batch, stop).
    wake: Condvar,
    /// Wakes `flush` (a batch acknowledged, refused or failed).
    progress: Condvar,
    room: AtomicU64,
    has_lost: AtomicBool,
    stats: Atomics,
    counters: Arc<Counters>,
    cfg: Settings,
    spool: Option<Spool>,
    receipts: Option<Arc<Receipts>>,
}

fn would_block(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::WouldBlock, msg.to_string())
}

impl HttpShared {
    /// Counters for `stats()`.
    pub(crate) fn stats(&self) -> HttpStats {
        let (spool_events, spool_bytes, queued) = {
            let st = self.state.lock();
            (
                st.spool_events,
                st.spool_bytes,
                st.ram_events + st.open_events,
            )
        };
        let a = &self.stats;
        let status = a.last_status.load(Relaxed);
        let mut out = HttpStats {
            sent_batches: a.sent_batches.load(Relaxed),
            sent_events: a.sent_events.load(Relaxed),
            sent_bytes: a.sent_bytes.load(Relaxed),
            retried: a.retried.load(Relaxed),
            spooled_events: a.spooled_events.load(Relaxed),
            spool_events,
            spool_bytes,
            queued_events: queued,
            rejected_batches: a.rejected_batches.load(Relaxed),
            dropped: a.dropped.load(Relaxed),
            spool_repaired_bytes: a.repaired.load(Relaxed),
            last_status: (status != 0).then_some(status as u16),
            ..HttpStats::default()
        };
        if let Some(rc) = &self.receipts {
            let q = rc.q.lock();
            out.receipts_pending = q.pending.len() as u64;
            out.receipts_last_error = q.last_error.clone();
            out.receipts_written = rc.written.load(Relaxed);
            out.receipts_failed = rc.failed.load(Relaxed);
            out.receipts_unavailable = rc.unavailable.load(Relaxed);
        }
        out
    }

    fn error(&self, msg: String) {
        self.counters.sink_errors.fetch_add(1, Relaxed);
        *self.counters.last_error.lock() = Some(msg);
    }

    /// Events the sink can take now: free memory slots and spool bytes (by the average event
    /// size seen), less the open batch.
    fn update_room(&self, st: &State) {
        let c = &self.cfg;
        let slots = if st.down {
            0
        } else {
            c.queue_max_batches.saturating_sub(st.ram_batches) as u64
        };
        let avg = st
            .seen_bytes
            .checked_div(st.seen_events)
            .map_or(512, |a| a.max(1));
        let spool = match &self.spool {
            Some(s) if !st.spool_full => s.max_bytes.saturating_sub(st.spool_bytes) / avg,
            _ => 0,
        };
        let room = (slots * c.batch_max_events + spool).saturating_sub(st.open_events);
        self.room.store(room, Relaxed);
    }

    /// Puts a sealed batch in memory or in the spool, in sequence order.
    fn place(&self, st: &mut State, data: Vec<u8>, events: u64) -> io::Result<()> {
        let seq = st.next_seq;
        let bytes = data.len() as u64;
        if !st.down && st.ram_batches < self.cfg.queue_max_batches {
            st.entries.push_back(Entry {
                seq,
                events,
                bytes,
                ram: Some(Arc::new(data)),
                on_disk: false,
            });
            st.ram_batches += 1;
            st.ram_events += events;
        } else if let Some(sp) = &self.spool {
            if st.spool_bytes + bytes > sp.max_bytes {
                st.spool_full = true;
                return Err(would_block("the trace spool is full"));
            }
            sp.write(seq, &data)?;
            st.entries.push_back(Entry {
                seq,
                events,
                bytes,
                ram: None,
                on_disk: true,
            });
            st.spool_bytes += bytes;
            st.spool_events += events;
            self.stats.spooled_events.fetch_add(events, Relaxed);
        } else {
            return Err(would_block(
                "the HTTP sender queue is full (receiver slow or down) and there is no spool_dir",
            ));
        }
        st.next_seq += 1;
        Ok(())
    }

    /// Removes the batches placed from `start_seq` on (a failed `write_batch`).
    fn rollback(&self, st: &mut State, start_seq: u64) {
        while st.entries.back().is_some_and(|e| e.seq >= start_seq) {
            let Some(e) = st.entries.pop_back() else {
                break;
            };
            self.forget(st, &e);
        }
        st.next_seq = start_seq;
    }

    /// Accounts for an entry leaving the queue (deleting its segment).
    fn forget(&self, st: &mut State, e: &Entry) {
        if e.ram.is_some() {
            st.ram_batches -= 1;
            st.ram_events -= e.events;
        }
        if e.on_disk {
            if let Some(sp) = &self.spool {
                sp.remove(e.seq);
            }
            st.spool_bytes -= e.bytes;
            st.spool_events -= e.events;
            st.spool_full = false;
        }
    }

    /// Seals the open batch (timer, flush, close).
    fn seal_open(&self, st: &mut State) -> io::Result<()> {
        if st.open_events == 0 {
            return Ok(());
        }
        let data = std::mem::take(&mut st.open);
        let n = st.open_events;
        st.open_events = 0;
        match self.place(st, data.clone(), n) {
            Ok(()) => {
                st.open_since = None;
                self.update_room(st);
                self.wake.notify_all();
                Ok(())
            }
            Err(e) => {
                st.open = data;
                st.open_events = n;
                Err(e)
            }
        }
    }

    /// Writes every in-memory batch below `below` to the spool. Needs a spool.
    fn spill(&self, st: &mut State, below: u64) -> io::Result<()> {
        let Some(sp) = &self.spool else {
            return Err(would_block("no spool_dir"));
        };
        let mut wrote = false;
        let mut res = Ok(());
        for i in 0..st.entries.len() {
            let e = &st.entries[i];
            if e.seq >= below || e.ram.is_none() {
                continue;
            }
            if st.spool_bytes + e.bytes > sp.max_bytes {
                st.spool_full = true;
                res = Err(would_block("the trace spool is full"));
                break;
            }
            let (seq, events, bytes) = (e.seq, e.events, e.bytes);
            let data = e.ram.clone().unwrap_or_default();
            if let Err(err) = sp.write(seq, &data) {
                res = Err(err);
                break;
            }
            wrote = true;
            let e = &mut st.entries[i];
            e.ram = None;
            e.on_disk = true;
            st.ram_batches -= 1;
            st.ram_events -= events;
            st.spool_bytes += bytes;
            st.spool_events += events;
            self.stats.spooled_events.fetch_add(events, Relaxed);
        }
        if wrote {
            res = res.and(sp.sync_dir());
        }
        self.update_room(st);
        res
    }

    fn remove_entry(&self, st: &mut State, seq: u64) -> Option<Entry> {
        let i = st.entries.iter().position(|e| e.seq == seq)?;
        let e = st.entries.remove(i)?;
        self.forget(st, &e);
        Some(e)
    }

    fn acked(&self, st: &mut State, seq: u64, body_len: usize, status: u16) {
        if let Some(e) = self.remove_entry(st, seq) {
            self.stats.sent_batches.fetch_add(1, Relaxed);
            self.stats.sent_events.fetch_add(e.events, Relaxed);
            self.stats.sent_bytes.fetch_add(body_len as u64, Relaxed);
        }
        self.stats.last_status.store(status.into(), Relaxed);
        st.failures = 0;
        st.failing = false;
        st.down = false;
        st.retry_at = None;
        self.update_room(st);
    }

    fn failed(&self, st: &mut State, msg: String, retry_after: Option<Duration>) {
        st.failures = st.failures.saturating_add(1);
        st.failing = true;
        self.stats.retried.fetch_add(1, Relaxed);
        self.error(msg);
        if st.failures > self.cfg.max_retries && self.spool.is_some() && !st.down {
            // The receiver is down: keep what is queued on disk, and spool what comes next.
            st.down = true;
            let _ = self.spill(st, u64::MAX);
        }
        let delay = retry_after.unwrap_or_else(|| {
            backoff(st.failures, self.cfg.backoff_initial, self.cfg.backoff_max)
        });
        st.retry_at = Some(Instant::now() + delay);
        self.update_room(st);
    }

    /// A permanent refusal: the batch is dropped, counted, and its traces get gap events.
    fn rejected(&self, st: &mut State, seq: u64, raw: &[u8], resp: &Response) {
        let Some(e) = self.remove_entry(st, seq) else {
            return;
        };
        self.stats.rejected_batches.fetch_add(1, Relaxed);
        self.lose(st, raw, e.events);
        self.stats.last_status.store(resp.status.into(), Relaxed);
        let body = String::from_utf8_lossy(&resp.body);
        self.error(format!(
            "the trace receiver refused a batch of {} events with HTTP {}: {} (not retried; the events are dropped)",
            e.events,
            resp.status,
            truncate(body.trim(), 200)
        ));
        st.failures = 0;
        st.failing = false;
        st.down = false;
        st.retry_at = None;
        self.update_room(st);
    }

    /// Counts `events` as dropped and remembers them per trace for gap events.
    fn lose(&self, st: &mut State, raw: &[u8], events: u64) {
        self.stats.dropped.fetch_add(events, Relaxed);
        self.counters
            .dropped_sink_rejected
            .fetch_add(events, Relaxed);
        for line in raw.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if let Ok(h) = serde_json::from_slice::<LineHead<'_>>(line) {
                *st.lost.entry(h.trace_id.into_owned()).or_default() += 1;
            }
        }
        if !st.lost.is_empty() {
            self.has_lost.store(true, Relaxed);
        }
    }
}

// --- receipts -----------------------------------------------------------------------------------

/// The receipt line's `format`.
const RECEIPT_FORMAT: &str = "cra-receipt/1";
/// Most leaves one `POST /v1/log/proofs` asks for (the server's bound).
const PROOF_CHUNK: usize = 10_000;
/// First and longest pause before asking again for a covering checkpoint or after a failure.
const RECEIPT_RETRY_FIRST: Duration = Duration::from_millis(500);
const RECEIPT_RETRY_MAX: Duration = Duration::from_secs(30);

/// The path prefix of the receiver's API: the part of `path` before `/v1/traces` (receipts ask
/// `<prefix>/v1/log/...` of the same host).
fn log_prefix(path: &str) -> Result<String, String> {
    let p = path.split('?').next().unwrap_or("");
    match p.strip_suffix("/v1/traces") {
        Some(prefix) => Ok(prefix.to_string()),
        None => Err(format!(
            "receipts need a cra serve receiver: the url's path must end in /v1/traces, got {p:?}"
        )),
    }
}

/// A delivered batch waiting for its receipt.
struct PendingReceipt {
    batch_blake3: String,
    delivered_unix_ms: u64,
    /// (event_id, trace_id, leaf index from the 202 answer).
    events: Vec<(String, String, Option<u64>)>,
    since: Instant,
    failures: u32,
    next_try: Instant,
}

#[derive(Default)]
struct ReceiptQueue {
    pending: VecDeque<PendingReceipt>,
    stop: bool,
    /// The receiver has no log (404) or refuses our token on it: no receipts from now on.
    unavailable: bool,
    last_error: Option<String>,
}

#[derive(Deserialize)]
struct EventHead<'a> {
    #[serde(borrow)]
    event_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    trace_id: std::borrow::Cow<'a, str>,
}

/// Receipts of delivered batches, kept by their own thread (never the sender's).
struct Receipts {
    q: Mutex<ReceiptQueue>,
    wake: Condvar,
    path: PathBuf,
    prefix: String,
    max_pending: usize,
    max_bytes: u64,
    max_wait: Duration,
    written: AtomicU64,
    failed: AtomicU64,
    /// Batches delivered to a receiver without a log (no position in its answer, or 404).
    unavailable: AtomicU64,
}

impl Receipts {
    fn fail(&self, q: &mut ReceiptQueue, n: u64, msg: String) {
        self.failed.fetch_add(n, Relaxed);
        q.last_error = Some(msg);
    }

    /// Called by the sender after a batch was acknowledged: remembers what it sent. Cheap, never
    /// blocks on the network, drops (and counts) when `max_pending` receipts already wait.
    fn offer(&self, raw: &[u8], answer: &[u8]) {
        let mut q = self.q.lock();
        if q.unavailable {
            self.unavailable.fetch_add(1, Relaxed);
            return;
        }
        let doc = match serde_json::from_slice::<serde_json::Value>(answer) {
            Ok(v) => v,
            Err(e) => {
                // Cut (longer than the kept 1 MiB) or not JSON: this batch gets no receipt.
                self.fail(
                    &mut q,
                    1,
                    format!("the receiver's answer to a delivered batch is not readable JSON: {e}"),
                );
                return;
            }
        };
        let indices: Option<Vec<Option<u64>>> = doc
            .get("log")
            .and_then(|l| l.get("indices"))
            .and_then(|x| x.as_array())
            .map(|ix| ix.iter().map(|x| x.as_u64()).collect());
        let Some(indices) = indices else {
            // A receiver without a transparency log: no receipt.
            self.unavailable.fetch_add(1, Relaxed);
            q.last_error = Some(
                "the receiver's answer names no log positions (a receiver without a transparency log?)"
                    .into(),
            );
            return;
        };
        if q.pending.len() >= self.max_pending {
            self.fail(
                &mut q,
                1,
                format!(
                    "{} receipts already wait; this batch gets none",
                    self.max_pending
                ),
            );
            return;
        }
        drop(q);
        let mut events = Vec::with_capacity(indices.len());
        for line in raw.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            match serde_json::from_slice::<EventHead<'_>>(line) {
                Ok(h) => events.push((h.event_id.into_owned(), h.trace_id.into_owned(), None)),
                Err(e) => {
                    let mut q = self.q.lock();
                    self.fail(&mut q, 1, format!("a delivered line has no event_id: {e}"));
                    return;
                }
            }
        }
        if events.len() != indices.len() {
            let mut q = self.q.lock();
            self.fail(
                &mut q,
                1,
                format!(
                    "the receiver named {} log positions for {} lines",
                    indices.len(),
                    events.len()
                ),
            );
            return;
        }
        for (e, i) in events.iter_mut().zip(indices) {
            e.2 = i;
        }
        let now = Instant::now();
        let p = PendingReceipt {
            batch_blake3: blake3::hash(raw).to_hex().to_string(),
            delivered_unix_ms: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            events,
            since: now,
            failures: 0,
            next_try: now,
        };
        let mut q = self.q.lock();
        q.pending.push_back(p);
        self.wake.notify_all();
    }

    fn later(p: &mut PendingReceipt) {
        p.failures = p.failures.saturating_add(1);
        let d = RECEIPT_RETRY_FIRST
            .saturating_mul(1 << p.failures.min(6))
            .min(RECEIPT_RETRY_MAX);
        p.next_try = Instant::now() + d;
    }
}

enum Step {
    Done(serde_json::Value),
    /// Not covered yet, or a retryable failure: try again later.
    Later(Option<String>),
    /// This receipt cannot be made.
    Fail(String),
    /// The receiver has no log for us (404, 401, 403): no receipts at all.
    Unavailable(String),
}

fn answer_json(r: &Response) -> Result<serde_json::Value, String> {
    serde_json::from_slice(&r.body).map_err(|e| format!("unreadable answer: {e}"))
}

fn classify(what: &str, r: &Response) -> Step {
    let text = String::from_utf8_lossy(&r.body);
    let msg = format!("{what}: HTTP {} {}", r.status, truncate(text.trim(), 200));
    match r.status {
        404 | 401 | 403 => Step::Unavailable(msg),
        s if retryable(s) => Step::Later(Some(msg)),
        _ => Step::Fail(msg),
    }
}

/// One attempt at the receipt of `p`: the first checkpoint covering its leaves, then their
/// inclusion proofs at that checkpoint's size.
fn make_receipt(client: &mut Client, prefix: &str, p: &PendingReceipt) -> Step {
    let logged: Vec<u64> = p.events.iter().filter_map(|e| e.2).collect();
    let Some(&last) = logged.iter().max() else {
        return Step::Fail("no event of the batch has a leaf (all were rejected or held)".into());
    };
    let path = format!("{prefix}/v1/log/checkpoints?after={last}&limit=1");
    let r = match client.request("GET", &path, b"") {
        Ok(r) => r,
        Err(e) => return Step::Later(Some(format!("checkpoints: {e}"))),
    };
    if r.status != 200 {
        return classify("GET /v1/log/checkpoints", &r);
    }
    let cps = match answer_json(&r) {
        Ok(v) => v,
        Err(e) => return Step::Fail(e),
    };
    let Some(cp) = cps
        .get("checkpoints")
        .and_then(|c| c.as_array())
        .and_then(|a| a.first())
    else {
        return Step::Later(None); // not covered yet
    };
    let (Some(size), Some(note)) = (
        cp.get("size").and_then(|x| x.as_u64()),
        cp.get("note").and_then(|x| x.as_str()),
    ) else {
        return Step::Fail("a checkpoint without size or note".into());
    };
    if size <= last {
        return Step::Fail(format!(
            "the receiver answered a checkpoint of size {size} for leaf {last}"
        ));
    }
    let mut want = logged.clone();
    want.sort_unstable();
    want.dedup();
    let mut hashes: Vec<String> = Vec::new();
    let mut table: HashMap<String, usize> = HashMap::new();
    let mut proofs: HashMap<u64, (String, Vec<usize>)> = HashMap::new();
    for chunk in want.chunks(PROOF_CHUNK) {
        let body = serde_json::json!({"indices": chunk, "size": size}).to_string();
        let path = format!("{prefix}/v1/log/proofs");
        let r = match client.request("POST", &path, body.as_bytes()) {
            Ok(r) => r,
            Err(e) => return Step::Later(Some(format!("proofs: {e}"))),
        };
        if r.status != 200 {
            return classify("POST /v1/log/proofs", &r);
        }
        let v = match answer_json(&r) {
            Ok(v) => v,
            Err(e) => return Step::Fail(e),
        };
        let (Some(hs), Some(leaves)) = (
            v.get("hashes").and_then(|x| x.as_array()),
            v.get("leaves").and_then(|x| x.as_array()),
        ) else {
            return Step::Fail("a proofs answer without hashes or leaves".into());
        };
        let hs: Vec<&str> = hs.iter().filter_map(|h| h.as_str()).collect();
        for l in leaves {
            let (Some(i), Some(leaf), Some(proof)) = (
                l.get("index").and_then(|x| x.as_u64()),
                l.get("leaf_hash").and_then(|x| x.as_str()),
                l.get("proof").and_then(|x| x.as_array()),
            ) else {
                return Step::Fail("a malformed proof in the answer".into());
            };
            let mut pos = Vec::with_capacity(proof.len());
            for k in proof {
                let Some(h) = k.as_u64().and_then(|k| hs.get(k as usize)) else {
                    return Step::Fail("a proof names a hash the answer lacks".into());
                };
                let n = table.len();
                let at = *table.entry((*h).to_string()).or_insert_with(|| {
                    hashes.push((*h).to_string());
                    n
                });
                pos.push(at);
            }
            proofs.insert(i, (leaf.to_string(), pos));
        }
    }
    let mut events = Vec::with_capacity(p.events.len());
    for (eid, tid, idx) in &p.events {
        let mut e = serde_json::json!({"event_id": eid, "trace_id": tid, "index": idx});
        match idx.and_then(|i| proofs.get(&i)) {
            Some((leaf, pos)) => {
                e["leaf_hash"] = leaf.clone().into();
                e["proof"] = serde_json::json!(pos);
            }
            None if idx.is_some() => {
                return Step::Fail(format!(
                    "the receiver sent no proof for leaf {}",
                    idx.unwrap_or(0)
                ))
            }
            None => {}
        }
        events.push(e);
    }
    Step::Done(serde_json::json!({
        "format": RECEIPT_FORMAT,
        "batch_blake3": p.batch_blake3,
        "delivered_unix_ms": p.delivered_unix_ms,
        "size": size,
        "checkpoint": note,
        "hashes": hashes,
        "events": events,
    }))
}

/// The receipts thread: takes the oldest due receipt, makes one attempt, writes it or schedules
/// it again; exits at close (receipts still pending are not written).
fn receipts_loop(rc: &Receipts, mut client: Client) {
    let mut written_bytes = fs::metadata(&rc.path).map_or(0, |m| m.len());
    let mut file: Option<File> = None;
    loop {
        let mut p = {
            let mut q = rc.q.lock();
            loop {
                if q.stop {
                    return;
                }
                let now = Instant::now();
                let due = q.pending.iter().position(|p| p.next_try <= now);
                if let Some(i) = due {
                    if let Some(p) = q.pending.remove(i) {
                        break p;
                    }
                }
                match q.pending.iter().map(|p| p.next_try).min() {
                    Some(t) => {
                        rc.wake.wait_until(&mut q, t);
                    }
                    None => rc.wake.wait(&mut q),
                }
            }
        };
        let step = make_receipt(&mut client, &rc.prefix, &p);
        let mut q = rc.q.lock();
        match step {
            Step::Done(v) => {
                let mut line = v.to_string().into_bytes();
                line.push(b'\n');
                if written_bytes + line.len() as u64 > rc.max_bytes {
                    rc.fail(
                        &mut q,
                        1,
                        format!(
                            "the receipts file {:?} reached receipts_max_bytes ({})",
                            rc.path, rc.max_bytes
                        ),
                    );
                    continue;
                }
                drop(q);
                let res = match &mut file {
                    Some(f) => f.write_all(&line),
                    None => OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&rc.path)
                        .and_then(|mut f| {
                            f.write_all(&line)?;
                            file = Some(f);
                            Ok(())
                        }),
                };
                let mut q = rc.q.lock();
                match res {
                    Ok(()) => {
                        written_bytes += line.len() as u64;
                        rc.written.fetch_add(1, Relaxed);
                    }
                    Err(e) => {
                        file = None;
                        rc.fail(
                            &mut q,
                            1,
                            format!("cannot write the receipts file {:?}: {e}", rc.path),
                        );
                    }
                }
            }
            Step::Later(msg) => {
                if p.since.elapsed() >= rc.max_wait {
                    let why = msg.unwrap_or_else(|| "no checkpoint covers it yet".into());
                    rc.fail(
                        &mut q,
                        1,
                        format!("a receipt was given up after receipts_max_wait_ms ({why})"),
                    );
                } else {
                    if msg.is_some() {
                        q.last_error = msg;
                    }
                    Receipts::later(&mut p);
                    q.pending.push_back(p);
                }
            }
            Step::Fail(msg) => rc.fail(&mut q, 1, msg),
            Step::Unavailable(msg) => {
                // No log (or no read right): stop asking, count what waits.
                q.unavailable = true;
                let n = 1 + q.pending.len() as u64;
                q.pending.clear();
                rc.unavailable.fetch_add(n, Relaxed);
                q.last_error = Some(format!("no receipts from this receiver: {msg}"));
            }
        }
    }
}

// --- the sink -----------------------------------------------------------------------------------

/// The HTTP sink. Dropping it stops the sender: in-memory batches go to the spool when there is
/// one; without one, the sender tries to deliver them first (until one attempt fails).
pub struct HttpSink {
    shared: Arc<HttpShared>,
    thread: Option<std::thread::JoinHandle<()>>,
    receipts_thread: Option<std::thread::JoinHandle<()>>,
    fork_generation: u64,
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink")
            .field("stats", &self.shared.stats())
            .finish()
    }
}

impl HttpSink {
    /// Opens the sink: resolves the token, builds TLS, opens (locks, repairs) the spool, starts
    /// the sender thread. Errors carry a pointer under `/http`.
    pub(crate) fn open(
        cfg: &HttpConfig,
        fsync: FsyncPolicy,
        counters: Arc<Counters>,
    ) -> Result<HttpSink, CraError> {
        cfg.validate()?;
        let target = Target::parse(&cfg.url)
            .map_err(|m| CraError::at(ErrorCode::InvalidConfig, "/http/url", m))?;
        let token = match (&cfg.token, &cfg.token_env) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(name)) => {
                let bad = |m: String| CraError::at(ErrorCode::InvalidConfig, "/http/token_env", m);
                let t = std::env::var(name).map_err(|_| {
                    bad(format!(
                        "the environment variable {name:?} (token_env) is not set or not UTF-8"
                    ))
                })?;
                check_token(&t).map_err(|m| bad(format!("{name}: {m}")))?;
                Some(t)
            }
            (None, None) => None,
        };
        let tls = if target.tls {
            Some(tls_config(cfg.ca_file.as_deref())?)
        } else {
            None
        };
        let mut state = State::default();
        let stats = Atomics::default();
        let spool = match &cfg.spool_dir {
            None => None,
            Some(dir) => {
                let (sp, found, cut) = Spool::open(
                    Path::new(dir),
                    fsync != FsyncPolicy::Never,
                    cfg.spool_max_bytes,
                )
                .map_err(|e| {
                    let code = if e.kind() == io::ErrorKind::WouldBlock {
                        ErrorCode::TraceFileLocked
                    } else {
                        ErrorCode::IoError
                    };
                    CraError::at(
                        code,
                        "/http/spool_dir",
                        format!("cannot open the trace spool {dir:?}: {e}"),
                    )
                })?;
                stats.repaired.store(cut, Relaxed);
                for f in found {
                    state.entries.push_back(Entry {
                        seq: f.seq,
                        events: f.events,
                        bytes: f.bytes,
                        ram: None,
                        on_disk: true,
                    });
                    state.spool_bytes += f.bytes;
                    state.spool_events += f.events;
                    state.next_seq = f.seq + 1;
                }
                Some(sp)
            }
        };
        let settings = Settings {
            batch_max_events: cfg.batch_max_events.into(),
            batch_max_bytes: cfg.batch_max_bytes as usize,
            batch_max_delay: Duration::from_millis(cfg.batch_max_delay_ms.into()),
            timeout: Duration::from_millis(cfg.timeout_ms.into()),
            max_retries: cfg.max_retries,
            backoff_initial: Duration::from_millis(cfg.backoff_initial_ms.into()),
            backoff_max: Duration::from_millis(cfg.backoff_max_ms.into()),
            queue_max_batches: cfg.queue_max_batches as usize,
            compression: cfg.compression,
        };
        let receipts = match &cfg.receipts_file {
            None => None,
            Some(path) => {
                let prefix = log_prefix(&target.path).map_err(|m| {
                    CraError::at(ErrorCode::InvalidConfig, "/http/receipts_file", m)
                })?;
                // Fail at open, not later, when the file cannot be written.
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        CraError::at(
                            ErrorCode::IoError,
                            "/http/receipts_file",
                            format!("cannot open the receipts file {path:?}: {e}"),
                        )
                    })?;
                Some(Arc::new(Receipts {
                    q: Mutex::new(ReceiptQueue::default()),
                    wake: Condvar::new(),
                    path: PathBuf::from(path),
                    prefix,
                    max_pending: cfg.receipts_max_pending as usize,
                    max_bytes: cfg.receipts_max_bytes,
                    max_wait: Duration::from_millis(cfg.receipts_max_wait_ms.into()),
                    written: AtomicU64::new(0),
                    failed: AtomicU64::new(0),
                    unavailable: AtomicU64::new(0),
                }))
            }
        };
        let mut receipts_client = receipts.as_ref().map(|_| {
            Client::with_type(
                target.clone(),
                tls.clone(),
                settings.timeout,
                token.as_deref(),
                Compression::None,
                "application/json",
            )
        });
        if let Some(c) = &mut receipts_client {
            c.keep = BODY_DRAIN_MAX as usize;
        }
        let mut client = Client::new(
            target,
            tls,
            settings.timeout,
            token.as_deref(),
            cfg.compression,
        );
        if receipts.is_some() {
            client.keep = BODY_DRAIN_MAX as usize; // the 202 answer's log positions
        }
        let shared = Arc::new(HttpShared {
            state: Mutex::new(state),
            wake: Condvar::new(),
            progress: Condvar::new(),
            room: AtomicU64::new(0),
            has_lost: AtomicBool::new(false),
            stats,
            counters,
            cfg: settings,
            spool,
            receipts: receipts.clone(),
        });
        shared.update_room(&shared.state.lock());
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("cra-trace-http".into())
            .spawn(move || sender_loop(&s, client))
            .map_err(|e| {
                CraError::new(
                    ErrorCode::Internal,
                    format!("cannot start the HTTP sender thread: {e}"),
                )
            })?;
        let receipts_thread = match (receipts, receipts_client) {
            (Some(rc), Some(c)) => Some(
                std::thread::Builder::new()
                    .name("cra-trace-receipts".into())
                    .spawn(move || receipts_loop(&rc, c))
                    .map_err(|e| {
                        CraError::new(
                            ErrorCode::Internal,
                            format!("cannot start the receipts thread: {e}"),
                        )
                    })?,
            ),
            _ => None,
        };
        Ok(HttpSink {
            shared,
            thread: Some(thread),
            receipts_thread,
            fork_generation: crate::fork::generation(),
        })
    }

    /// The shared state, for the collector's `stats()`.
    pub(crate) fn handle(&self) -> Arc<HttpShared> {
        self.shared.clone()
    }
}

/// Where to cut `buf` into full batches: (end offset, events) of each full one.
fn batch_cuts(buf: &[u8], max_events: u64, max_bytes: usize) -> Vec<(usize, u64)> {
    let mut cuts = Vec::new();
    let (mut start, mut n, mut pos) = (0usize, 0u64, 0usize);
    for nl in memchr::memchr_iter(b'\n', buf) {
        let end = nl + 1;
        if n > 0 && end - start > max_bytes {
            cuts.push((pos, n));
            start = pos;
            n = 0;
        }
        n += 1;
        pos = end;
        if n >= max_events || end - start >= max_bytes {
            cuts.push((end, n));
            start = end;
            n = 0;
        }
    }
    cuts
}

impl TraceSink for HttpSink {
    /// Appends to the open batch; full batches go to the sender queue, or to the spool when the
    /// queue is full or the receiver is down. All or nothing: `WouldBlock` when there is no room.
    fn write_batch(&mut self, lines: &[u8], events: usize) -> io::Result<()> {
        let sh = &*self.shared;
        let mut guard = sh.state.lock();
        let st = &mut *guard;
        let (old_len, old_events) = (st.open.len(), st.open_events);
        st.open.extend_from_slice(lines);
        st.open_events += events as u64;
        let cuts = batch_cuts(&st.open, sh.cfg.batch_max_events, sh.cfg.batch_max_bytes);
        // Room for every full batch? (Checked first: nothing is placed unless all fit.)
        let mut slots = if st.down {
            0
        } else {
            sh.cfg.queue_max_batches.saturating_sub(st.ram_batches)
        };
        let mut free = sh
            .spool
            .as_ref()
            .map_or(0, |s| s.max_bytes.saturating_sub(st.spool_bytes));
        let mut prev = 0;
        let mut fits = true;
        for &(end, _) in &cuts {
            let size = (end - prev) as u64;
            prev = end;
            if slots > 0 {
                slots -= 1;
            } else if sh.spool.is_some() && size <= free {
                free -= size;
            } else {
                fits = false;
                break;
            }
        }
        let restore = |st: &mut State| {
            st.open.truncate(old_len);
            st.open_events = old_events;
        };
        if !fits {
            restore(st);
            if sh.spool.is_some() {
                st.spool_full = true;
            }
            sh.update_room(st);
            return Err(would_block(if sh.spool.is_some() {
                "the HTTP sender queue and the trace spool are full"
            } else {
                "the HTTP sender queue is full (receiver slow or down) and there is no spool_dir"
            }));
        }
        if let Some(&(last, _)) = cuts.last() {
            let rest = st.open.split_off(last);
            let full = std::mem::replace(&mut st.open, rest);
            let start_seq = st.next_seq;
            let mut prev = 0;
            for &(end, n) in &cuts {
                if let Err(e) = sh.place(st, full[prev..end].to_vec(), n) {
                    sh.rollback(st, start_seq);
                    let mut all = full;
                    all.extend_from_slice(&st.open);
                    st.open = all;
                    restore(st);
                    sh.update_room(st);
                    return Err(e);
                }
                prev = end;
            }
            st.open_events -= cuts.iter().map(|c| c.1).sum::<u64>();
            if sh.spool.is_some() && st.entries.back().is_some_and(|e| e.on_disk) {
                if let Some(sp) = &sh.spool {
                    let _ = sp.sync_dir();
                }
            }
            st.open_since = None;
            sh.wake.notify_all();
        }
        if st.open_events > 0 && st.open_since.is_none() {
            st.open_since = Some(Instant::now());
            sh.wake.notify_all();
        }
        st.seen_bytes += lines.len() as u64;
        st.seen_events += events as u64;
        sh.update_room(st);
        Ok(())
    }

    /// Returns once every event accepted before the call is acknowledged by the receiver (2xx),
    /// refused (counted as dropped), or written to the spool. With a spool, batches still in
    /// memory are spooled as soon as an attempt fails, or after `timeout_ms`; without one, it
    /// waits up to `timeout_ms` for the acknowledgements and then fails.
    fn flush(&mut self) -> io::Result<()> {
        let sh = &*self.shared;
        let mut st = sh.state.lock();
        if let Err(e) = sh.seal_open(&mut st) {
            // No room to seal it now; spool what is queued below it, then report.
            if sh.spool.is_some() {
                let next = st.next_seq;
                let _ = sh.spill(&mut st, next);
            }
            return Err(e);
        }
        let target = st.next_seq;
        sh.wake.notify_all();
        let deadline = Instant::now() + sh.cfg.timeout;
        loop {
            let in_memory = st.entries.iter().any(|e| e.seq < target && !e.on_disk);
            if !in_memory {
                return Ok(());
            }
            let timed_out = Instant::now() >= deadline;
            if sh.spool.is_some() && (st.failing || st.down || timed_out) {
                return sh.spill(&mut st, target);
            }
            if timed_out {
                let why = sh
                    .counters
                    .last_error
                    .lock()
                    .clone()
                    .unwrap_or_else(|| "no answer yet".into());
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("batches not acknowledged within timeout_ms and there is no spool_dir ({why})"),
                ));
            }
            sh.progress.wait_until(&mut st, deadline);
        }
    }

    fn room(&self) -> Option<u64> {
        Some(self.shared.room.load(Relaxed))
    }

    fn take_lost(&mut self) -> Vec<(String, u64)> {
        if !self.shared.has_lost.swap(false, Relaxed) {
            return Vec::new();
        }
        let mut st = self.shared.state.lock();
        std::mem::take(&mut st.lost).into_iter().collect()
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        if crate::fork::forked_since(self.fork_generation) {
            // A forked child: the sender thread and any lock holder do not exist here.
            if let Some(h) = self.thread.take() {
                std::mem::forget(h);
            }
            if let Some(h) = self.receipts_thread.take() {
                std::mem::forget(h);
            }
            return;
        }
        {
            let mut st = self.shared.state.lock();
            st.stop = true;
        }
        self.shared.wake.notify_all();
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
        if let Some(rc) = &self.shared.receipts {
            rc.q.lock().stop = true;
            rc.wake.notify_all();
        }
        if let Some(h) = self.receipts_thread.take() {
            let _ = h.join();
        }
    }
}

/// A batch the sender works on.
struct Job {
    seq: u64,
    events: u64,
    ram: Option<Arc<Vec<u8>>>,
}

fn sender_loop(sh: &HttpShared, mut client: Client) {
    // The compressed body of the batch being retried.
    let mut cache: Option<(u64, Arc<Vec<u8>>, Vec<u8>)> = None;
    loop {
        let job = {
            let mut st = sh.state.lock();
            loop {
                let now = Instant::now();
                let seal_at = st.open_since.map(|t| t + sh.cfg.batch_max_delay);
                if seal_at.is_some_and(|t| st.stop || now >= t) {
                    let _ = sh.seal_open(&mut st);
                }
                if st.stop && stop_now(sh, &mut st) {
                    return;
                }
                if let Some(t) = st.retry_at {
                    if now < t {
                        let until = seal_at.map_or(t, |s| s.min(t)).max(now);
                        sh.wake.wait_until(&mut st, until);
                        continue;
                    }
                    st.retry_at = None;
                }
                match st.entries.front() {
                    Some(e) => {
                        break Job {
                            seq: e.seq,
                            events: e.events,
                            ram: e.ram.clone(),
                        }
                    }
                    None => match st.open_since {
                        Some(t) => {
                            let until = (t + sh.cfg.batch_max_delay).max(now);
                            sh.wake.wait_until(&mut st, until);
                        }
                        None => sh.wake.wait(&mut st),
                    },
                }
            }
        };
        let (raw, body) = match cache.take() {
            Some((seq, raw, body)) if seq == job.seq => (raw, body),
            _ => {
                let raw = match job.ram {
                    Some(r) => r,
                    None => match sh.spool.as_ref().map(|s| s.read(job.seq)) {
                        Some(Ok(d)) => Arc::new(d),
                        other => {
                            let err = match other {
                                Some(Err(e)) => e.to_string(),
                                _ => "no spool".into(),
                            };
                            let mut st = sh.state.lock();
                            if sh.remove_entry(&mut st, job.seq).is_some() {
                                sh.lose(&mut st, &[], job.events);
                                sh.error(format!(
                                    "cannot read spool segment {} ({err}); its {} events are dropped",
                                    job.seq, job.events
                                ));
                            }
                            sh.update_room(&st);
                            sh.progress.notify_all();
                            continue;
                        }
                    },
                };
                let body = compress(&raw, sh.cfg.compression);
                (raw, body)
            }
        };
        let outcome = client.post(&body);
        let mut st = sh.state.lock();
        let mut delivered: Option<(Arc<Vec<u8>>, Vec<u8>)> = None;
        match outcome {
            Ok(r) if (200..300).contains(&r.status) => {
                sh.acked(&mut st, job.seq, body.len(), r.status);
                if sh.receipts.is_some() {
                    delivered = Some((raw.clone(), r.body));
                }
            }
            Ok(r) if retryable(r.status) => {
                sh.stats.last_status.store(r.status.into(), Relaxed);
                let text = String::from_utf8_lossy(&r.body);
                sh.failed(
                    &mut st,
                    format!(
                        "the trace receiver answered HTTP {}: {} (will retry)",
                        r.status,
                        truncate(text.trim(), 200)
                    ),
                    r.retry_after,
                );
                cache = Some((job.seq, raw, body));
            }
            Ok(r) => sh.rejected(&mut st, job.seq, &raw, &r),
            Err(e) => {
                sh.failed(&mut st, format!("trace receiver: {e} (will retry)"), None);
                cache = Some((job.seq, raw, body));
            }
        }
        drop(st);
        sh.progress.notify_all();
        if let (Some((raw, answer)), Some(rc)) = (delivered, &sh.receipts) {
            rc.offer(&raw, &answer);
        }
    }
}

/// At close: true when the sender should exit now. With a spool, in-memory batches are spooled
/// first; without one, the sender keeps delivering until the queue is empty or an attempt fails,
/// and what is left is counted as dropped.
fn stop_now(sh: &HttpShared, st: &mut State) -> bool {
    if sh.spool.is_some() {
        let _ = sh.spill(st, u64::MAX);
    }
    let in_memory: u64 = st
        .entries
        .iter()
        .filter(|e| !e.on_disk)
        .map(|e| e.events)
        .sum::<u64>()
        + st.open_events;
    if in_memory == 0 || sh.spool.is_some() {
        if in_memory > 0 {
            sh.stats.dropped.fetch_add(in_memory, Relaxed);
            sh.error(format!(
                "{in_memory} trace events could not be spooled at close and are dropped"
            ));
        }
        return true;
    }
    if st.failing {
        sh.stats.dropped.fetch_add(in_memory, Relaxed);
        sh.error(format!(
            "{in_memory} trace events were not delivered before close (no spool_dir) and are dropped"
        ));
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_ask_the_log_beside_the_ingest_path() {
        assert_eq!(log_prefix("/v1/traces").as_deref(), Ok(""));
        assert_eq!(log_prefix("/cra/v1/traces?x=1").as_deref(), Ok("/cra"));
        assert!(log_prefix("/ingest").is_err());
        assert!(log_prefix("/v1/traces/more").is_err());
    }

    #[test]
    fn urls() {
        let t = Target::parse("http://127.0.0.1:8080/v1/traces?x=1").expect("ok");
        assert_eq!(
            t,
            Target {
                tls: false,
                host: "127.0.0.1".into(),
                port: 8080,
                authority: "127.0.0.1:8080".into(),
                path: "/v1/traces?x=1".into()
            }
        );
        let t = Target::parse("HTTPS://ingest.example.com").expect("ok");
        assert!(t.tls);
        assert_eq!((t.port, t.path.as_str()), (443, "/"));
        let t = Target::parse("http://[::1]:9/?q").expect("ok");
        assert_eq!(
            (
                t.host.as_str(),
                t.port,
                t.authority.as_str(),
                t.path.as_str()
            ),
            ("::1", 9, "[::1]:9", "/?q")
        );
        for bad in [
            "ftp://x",
            "http://",
            "http://a b/",
            "http://u:p@host/",
            "http://host:0/",
            "http://host:99999/",
            "http://host/#frag",
            "http://[::1/",
            "http://[zz]/",
            "http://h\u{e9}/",
            "http://host:/",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        // RFC 850 and asctime forms, and a date in the past.
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:39 GMT", now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:40 1994", now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("99999999", now), Some(RETRY_AFTER_CAP));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let (i, m) = (Duration::from_millis(100), Duration::from_millis(1000));
        for f in 1..40 {
            let d = backoff(f, i, m);
            let full = (i * (1 << (f - 1).min(20))).min(m);
            assert!(d >= full / 2 && d <= full, "{f}: {d:?}");
        }
    }

    #[test]
    fn statuses() {
        for s in [408, 429, 502, 503, 504] {
            assert!(retryable(s));
        }
        for s in [400, 401, 403, 404, 413, 500, 501, 301] {
            assert!(!retryable(s));
        }
    }

    #[test]
    fn cuts() {
        let buf = b"a\nbb\nccc\ndddd\n";
        assert_eq!(batch_cuts(buf, 2, 1000), vec![(5, 2), (14, 2)]);
        assert_eq!(batch_cuts(buf, 3, 1000), vec![(9, 3)]);
        // by bytes: a line that would overflow starts the next batch (the last one stays open)
        assert_eq!(batch_cuts(buf, 100, 6), vec![(5, 2), (9, 1)]);
        // a line as big as the bound goes alone
        assert_eq!(batch_cuts(buf, 100, 5), vec![(5, 2), (9, 1), (14, 1)]);
        assert_eq!(batch_cuts(b"", 2, 10), Vec::<(usize, u64)>::new());
    }

    #[test]
    fn config_bounds_and_pointers() {
        let ok = HttpConfig {
            url: "http://127.0.0.1:1/".into(),
            ..Default::default()
        };
        ok.validate().expect("valid");
        let cases: Vec<(HttpConfig, &str)> = vec![
            (HttpConfig::default(), "/http/url"),
            (
                HttpConfig {
                    token: Some("a b".into()),
                    ..ok.clone()
                },
                "/http/token",
            ),
            (
                HttpConfig {
                    token: Some("a".into()),
                    token_env: Some("X".into()),
                    ..ok.clone()
                },
                "/http/token_env",
            ),
            (
                HttpConfig {
                    batch_max_events: 0,
                    ..ok.clone()
                },
                "/http/batch_max_events",
            ),
            (
                HttpConfig {
                    backoff_initial_ms: 500,
                    backoff_max_ms: 100,
                    ..ok.clone()
                },
                "/http/backoff_max_ms",
            ),
            (
                HttpConfig {
                    spool_max_bytes: 10,
                    ..ok.clone()
                },
                "/http/spool_max_bytes",
            ),
            (
                HttpConfig {
                    spool_dir: Some(String::new()),
                    ..ok.clone()
                },
                "/http/spool_dir",
            ),
            (
                HttpConfig {
                    timeout_ms: 1,
                    ..ok.clone()
                },
                "/http/timeout_ms",
            ),
        ];
        for (c, ptr) in cases {
            let e = c.validate().expect_err(ptr);
            assert_eq!(e.pointer.as_deref(), Some(ptr), "{}", e.message);
        }
        let dbg = format!(
            "{:?}",
            HttpConfig {
                token: Some("s3cret".into()),
                ..ok
            }
        );
        assert!(!dbg.contains("s3cret"), "{dbg}");
    }
}
