//! Log setup. Text logs go to stderr; JSON logs to stdout, one object per
//! line, with each request record written as its own line whose fields are
//! the record's (`request_id`, `meta`, `usage`, latencies, `outcome`...).

use std::fmt;

use sluice_store::sink::RECORD_TARGET;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::LogFormat;

/// Installs the global subscriber.
pub fn init(format: LogFormat, level: Option<&str>) {
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let result = match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .fmt_fields(JsonFields::new())
            .event_format(JsonLines(tracing_subscriber::fmt::format().json()))
            .with_writer(std::io::stdout)
            .try_init(),
    };
    if let Err(e) = result {
        eprintln!("sluice: logging already initialised: {e}");
    }
}

/// JSON lines, with request records inlined as objects.
struct JsonLines(Format<Json>);

#[derive(Default)]
struct RecordField(Option<String>);

impl Visit for RecordField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "record" {
            self.0 = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "record" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if event.metadata().target() == RECORD_TARGET {
            let mut field = RecordField::default();
            event.record(&mut field);
            if let Some(json) = field.0.filter(|j| j.starts_with('{') && j.len() > 2) {
                writer.write_str("{\"timestamp\":\"")?;
                SystemTime.format_time(&mut writer)?;
                write!(
                    writer,
                    "\",\"level\":\"INFO\",\"target\":\"{RECORD_TARGET}\",\"type\":\"request\",{}",
                    &json[1..]
                )?;
                return writeln!(writer);
            }
        }
        self.0.format_event(ctx, writer, event)
    }
}
