//! The Sluice gateway: configuration, provider clients, routing, the
//! request pipeline and the HTTP application.
//!
//! A request's life, outermost first:
//! 1. [`server`] accepts the connection and applies the layers in the order
//!    set in [`server::app`] (request id and record, panic guard, then the
//!    auth layer, which resolves the caller's key through [`tenancy`]);
//! 2. a handler reads the body, parses the few fields it needs
//!    (`sluice_protocol::openai::request`) and resolves the model through
//!    [`routing`];
//! 3. [`pipeline`] admits it against the caller's limits and budgets, the
//!    [`cache`] serves or stores chat answers, and [`exec`] runs the attempts against the resolved targets through
//!    [`provider`] clients, under deadlines;
//! 4. the answer is written back in the client's dialect, streams chunk by
//!    chunk, and the [`record`] is handed to the [`ledger`].
//!
//! `docs/request-lifecycle.md` draws the same picture.

pub mod admin;
pub mod alerts;
pub mod cache;
pub mod config;
pub mod exec;
pub mod guard;
pub mod ledger;
pub mod metrics;
pub mod passthrough;
pub mod payloads;
pub mod pipeline;
pub mod pricing;
pub mod provider;
pub mod record;
pub mod reload;
pub mod routing;
pub mod server;
pub mod state;
pub mod tenancy;
pub mod tokens;
pub mod traces;
pub mod ui;

pub use state::{Gateway, Runtime};
