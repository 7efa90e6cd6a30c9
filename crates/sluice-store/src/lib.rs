//! Storage for Sluice, behind narrow traits.
//!
//! - [`record`]: the request record, one per request accepted by the listener.
//! - [`sink`]: where records go ([`sink::RecordSink`]); the gateway's ledger
//!   writes batches to a sink from a background task, never from the request
//!   path.
//! - [`responses`]: conversation state kept for the Responses API's
//!   `previous_response_id` ([`responses::ResponseStore`]).
//!
//! The embedded SQLite store and the Postgres and Redis backends hang off the
//! same traits.

pub mod record;
pub mod responses;
pub mod sink;

pub use record::{Attempt, Outcome, RequestRecord};
pub use responses::{MemoryResponseStore, ResponseStore, StoredResponse};
pub use sink::{LogSink, MemorySink, RecordSink, StoreError};
