//! Append-only JSONL file sink with crash repair.
//!
//! On open, an existing file is scanned: a torn last line (no trailing LF, or a last line that
//! does not parse as an event) is truncated away, and each session's chain head (last sequence and
//! hash) is recovered so that appending continues every chain and the file keeps verifying.

use super::chain::{Chain, ChainHead};
use super::config::FsyncPolicy;
use super::sink::TraceSink;
use crate::clock::parse_rfc3339_us;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// What opening an existing file found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Repair {
    /// Complete events found in the file.
    pub events: u64,
    /// Bytes truncated from the end (a torn last line).
    pub truncated_bytes: u64,
    /// Sessions whose chain continues (not ended).
    pub open_sessions: u64,
}

/// A JSONL file sink: one canonical event per LF-terminated line, appended.
#[derive(Debug)]
pub struct JsonlFileSink {
    file: File,
    path: PathBuf,
    fsync: FsyncPolicy,
    /// Length of the file up to the last complete, accepted batch.
    len: u64,
    recovered: Vec<ChainHead>,
    repair: Repair,
}

#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    session_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    trace_id: std::borrow::Cow<'a, str>,
    sequence: u64,
    #[serde(borrow)]
    event_hash: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    event_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    timestamp: std::borrow::Cow<'a, str>,
}

impl JsonlFileSink {
    /// Opens (creating if needed) `path` for appending, repairing a torn tail. The file has one
    /// writer: it is locked exclusively (advisory `flock`) for as long as the sink lives, and
    /// a second writer gets an error of kind [`io::ErrorKind::WouldBlock`] instead of
    /// interleaving chains.
    pub fn open(path: impl AsRef<Path>, fsync: FsyncPolicy) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => io::Error::new(
                io::ErrorKind::WouldBlock,
                "another resolver or process is writing this trace file",
            ),
            std::fs::TryLockError::Error(e) => e,
        })?;
        let (good_len, heads, mut repair) = scan(&file)?;
        let actual = file.metadata()?.len();
        if actual > good_len {
            file.set_len(good_len)?;
            file.sync_all()?;
            repair.truncated_bytes = actual - good_len;
        }
        repair.open_sessions = heads.len() as u64;
        let recovered = heads
            .into_iter()
            .map(|(trace_id, (session_id, chain))| ChainHead {
                session_id,
                trace_id,
                chain,
            })
            .collect();
        Ok(JsonlFileSink {
            file,
            path,
            fsync,
            len: good_len,
            recovered,
            repair,
        })
    }

    /// What the open found and repaired.
    pub fn repair(&self) -> &Repair {
        &self.repair
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn undo_partial(&mut self) {
        // Best effort: cut back to the last accepted batch so a retry does not duplicate lines.
        let _ = self.file.set_len(self.len);
    }
}

/// Scans the file: returns the length up to the last good line, the open chains, and counts.
type Heads = HashMap<String, (String, Chain)>;

fn scan(file: &File) -> io::Result<(u64, Heads, Repair)> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut heads: Heads = HashMap::new();
    let mut repair = Repair::default();
    let mut offset = 0u64;
    let mut good_len = 0u64;
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        let complete = line.last() == Some(&b'\n');
        let end = offset + n as u64;
        let parsed = if complete {
            serde_json::from_slice::<Head<'_>>(&line[..n - 1]).ok()
        } else {
            None
        };
        match parsed {
            Some(h) => {
                repair.events += 1;
                if h.event_type == "session.ended" {
                    heads.remove(h.trace_id.as_ref());
                } else {
                    let chain = Chain {
                        next_sequence: h.sequence.saturating_add(1),
                        last_hash: h.event_hash.into_owned(),
                        last_timestamp_us: parse_rfc3339_us(&h.timestamp).unwrap_or(0),
                    };
                    heads.insert(h.trace_id.into_owned(), (h.session_id.into_owned(), chain));
                }
                good_len = end;
            }
            // A complete line that does not parse is kept unless it is the last one (then it is a
            // torn write); verify reports it. A line without LF is always the torn tail.
            None if complete && !reader.fill_buf()?.is_empty() => good_len = end,
            None => {}
        }
        offset = end;
    }
    Ok((good_len, heads, repair))
}

impl TraceSink for JsonlFileSink {
    fn write_batch(&mut self, lines: &[u8], _events: usize) -> io::Result<()> {
        let result = match self.fsync {
            FsyncPolicy::Always => lines
                .split_inclusive(|&b| b == b'\n')
                .try_for_each(|l| self.file.write_all(l).and_then(|_| self.file.sync_data())),
            FsyncPolicy::Batch => self
                .file
                .write_all(lines)
                .and_then(|_| self.file.sync_data()),
            FsyncPolicy::Never => self.file.write_all(lines),
        };
        match result {
            Ok(()) => {
                self.len += lines.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.undo_partial();
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.fsync {
            FsyncPolicy::Never => self.file.flush(),
            _ => self.file.sync_data(),
        }
    }

    fn take_recovered(&mut self) -> Vec<ChainHead> {
        std::mem::take(&mut self.recovered)
    }
}
