//! Internals that CRA's own bindings (C ABI, Node, WASM), conformance runner, tests, benches and
//! fuzz targets use. **Not covered by semver**: anything here may change or disappear in any
//! release. Applications use the crate root, [`crate::trace`], [`crate::atlas`] and
//! [`crate::api`] instead.
#![doc(hidden)]

pub use crate::atlas::schema::Schema;
pub use crate::clock::Clock;
pub use crate::error::{
    check_error_table, error_table_json, error_table_markdown, splice_error_doc, AbiStatus,
    ABI_STATUSES, ERROR_DOC_PATH, ERROR_TABLE_PATH,
};
pub use crate::ids::IdSource;
pub use crate::protocol::strict;
pub use crate::trace::canonical::canonicalize;
pub use crate::trace::chain::{Chain, ChainHead, PayloadText, UnhashedFieldsNoChain};
pub use crate::trace::collector::Collector;
pub use crate::trace::event::{
    EventPayload, EventType, MemoryRecorder, NullRecorder, PayloadSource, RawEvent, Recorder,
    SessionTrace,
};
#[cfg(feature = "threads")]
pub use crate::trace::file_sink::{JsonlFileSink, Repair};
#[cfg(feature = "http-sink")]
pub use crate::trace::http_sink::HttpSink;
pub use crate::trace::sink::{MemorySink, NullSink, TraceSink};
