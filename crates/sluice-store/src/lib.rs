//! Storage for Sluice, behind narrow traits.
//!
//! - [`record`]: the request record, one per request accepted by the listener.
//! - [`sink`]: where records go ([`RecordSink`]); the gateway's ledger writes
//!   batches to a sink from a background task, never from the request path.
//! - [`keys`]: virtual keys, consumers and teams ([`KeyStore`]).
//! - [`policy`]: limits and budgets as stored with them.
//! - [`counters`]: rate-limit and budget counters ([`counters::Counters`]),
//!   in memory or in Redis.
//! - [`db`]: the SQL store (SQLite by default, PostgreSQL to scale out),
//!   which implements [`KeyStore`] and [`RecordSink`].
//! - [`cache`]: cached LLM responses ([`CacheStore`]), in memory or in Redis.
//! - [`responses`]: conversation state kept for the Responses API's
//!   `previous_response_id` ([`responses::ResponseStore`]).

pub mod cache;
pub mod counters;
pub mod db;
pub mod keys;
pub mod policy;
pub mod record;
pub mod responses;
pub mod sink;

pub use cache::CacheStore;
pub use db::Db;
pub use keys::{Consumer, KeyRecord, KeyStore, ResolvedKey, Team};
pub use record::{Attempt, Detection, GuardrailEvent, Identity, Outcome, Payload, RequestRecord};
pub use responses::{MemoryResponseStore, ResponseStore, StoredResponse};
pub use sink::{LogSink, MemorySink, RecordSink, StoreError};
