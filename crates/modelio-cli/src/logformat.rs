//! The text log line, written without the detours of `tracing-subscriber`'s default formatter.
//!
//! The lines are those of `tracing_subscriber::fmt()` with ANSI colours off, byte for byte after the
//! timestamp (the unit test below checks it on every kind of field, span and error):
//! `2026-11-29T10:55:00.123456Z  INFO span{a=1}: target: message key=value ...`.
//!
//! Why not the default formatter: `modelio serve` writes one such line per request, and the default
//! one builds an ANSI style (empty, with colours off) around every field name, `=` and timestamp,
//! and formats integers through `Debug`; that was about a third of the cost of logging a model.json
//! GET (perf). Here names and integers are written straight into the line; values that are
//! `Display`/`Debug` (paths, addresses, floats, strings) still go through `core::fmt`, and the
//! message and errors through `tracing-subscriber`'s own visitor, so escaping stays its own.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format: timestamp (RFC 3339, microseconds, UTC), level, spans with their fields,
/// target, then the fields as [`Fields`] writes them.
pub struct Line;

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        write!(w, "{} {:>5} ", humantime::format_rfc3339_micros(std::time::SystemTime::now()), meta.level().as_str())?;
        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                w.write_str(span.metadata().name())?;
                seen = true;
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        write!(w, "{{{fields}}}")?;
                    }
                }
                w.write_char(':')?;
            }
            if seen {
                w.write_char(' ')?;
            }
        }
        w.write_str(meta.target())?;
        w.write_str(": ")?;
        ctx.format_fields(w.by_ref(), event)?;
        w.write_char('\n')
    }
}

/// The field format: `message key=value key="string"`, as `tracing-subscriber`'s default
/// (`DefaultFields`) writes them.
pub struct Fields;

impl<'w> FormatFields<'w> for Fields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut v = Visitor { w: writer, is_empty: true, result: Ok(()) };
        fields.record(&mut v);
        v.result
    }
}

/// Where `ryu` and `Debug` print an `f64` alike: plain decimal digits (`Debug` switches to exponents
/// below 1e-4, `ryu` below 1e-5), and below 1e9: at 15 and more significant digits the two can pick
/// different shortest digits (662936471232937.2 against .3); below 1e9 the test's 200,000 values
/// agree. Durations in milliseconds fit.
const PLAIN_F64: std::ops::Range<f64> = 1e-3..1e9;

struct Visitor<'w> {
    w: Writer<'w>,
    /// Nothing written yet (no space before the next field).
    is_empty: bool,
    result: fmt::Result,
}

impl Visitor<'_> {
    /// Writes ` name=` (no space first); `None` for fields the default formatter skips (`log.*`,
    /// the metadata of events from the `log` crate) or after an error.
    fn name(&mut self, field: &Field) -> Option<()> {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return None;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        let pad = if std::mem::replace(&mut self.is_empty, false) { "" } else { " " };
        self.result = self.w.write_str(pad).and_then(|_| self.w.write_str(name)).and_then(|_| self.w.write_char('='));
        self.result.is_ok().then_some(())
    }

    /// `name=text`, for values whose text needs no quoting (integers, booleans, plain floats).
    fn plain(&mut self, field: &Field, text: &str) {
        if self.name(field).is_some() {
            self.result = self.w.write_str(text);
        }
    }

    /// The message and errors: written by the default visitor, with its escaping.
    fn default_visitor(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_err() {
            return;
        }
        let mut d = DefaultVisitor::new(self.w.by_ref(), self.is_empty);
        record(&mut d);
        self.result = d.finish();
        self.is_empty = false;
    }
}

impl Visit for Visitor<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.plain(field, itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.plain(field, itoa::Buffer::new().format(value));
    }

    /// Durations: shortest round-trip digits as `Debug` prints them (`0.125`, `3.0`), through `ryu`
    /// where both print plain decimals (the test checks they agree); `Debug` elsewhere.
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value == 0.0 || (PLAIN_F64.contains(&value.abs())) {
            self.plain(field, ryu::Buffer::new().format_finite(value));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.plain(field, if value { "true" } else { "false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.default_visitor(|d| d.record_str(field, value)),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.default_visitor(|d| d.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            return self.default_visitor(|d| d.record_debug(field, value));
        }
        if self.name(field).is_some() {
            self.result = write!(self.w, "{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// Every kind of event the server logs, and some it does not.
    fn events() {
        let path = String::from("/models/a b/model.json");
        let addr: std::net::SocketAddr = "127.0.0.1:5000".parse().unwrap();
        tracing::info!(target: "modelio::request", method = %"GET", path = %path, status = 200u16, bytes_in = 0u64,
            bytes_out = 1234u64, duration_ms = 0.125f64, client = %addr, "request");
        tracing::warn!(target: "modelio::audit", action = "save", name = "a\"b\nc", version = 7i64, ok = true,
            token = "generated", "audit");
        let err = Outer(std::io::Error::other("disk \u{1b}[31mred"));
        tracing::error!(error = &err as &(dyn std::error::Error + 'static), r#type = "x", "failed: {}", 3);
        tracing::error!(error = &std::io::Error::other("alone") as &(dyn std::error::Error + 'static));
        tracing::info!(neg = -5i64, big = u64::MAX, f = 1e21f64, g = 0.5f64, h = 1e-9f64, i = f64::NAN, j = -2.5f64, list = ?vec![1, 2], "with \u{1b} escape");
        tracing::info!("message only");
        tracing::info!(only = 1u64);
        let outer = tracing::info_span!("modelio.save", url = %"file:///x", bytes = 3u64);
        let _o = outer.enter();
        let inner = tracing::info_span!("inner");
        let _i = inner.enter();
        tracing::debug!(target: "t", n = 1u64, "in spans");
        tracing::trace!("trace");
        let s = tracing::info_span!("late", a = tracing::field::Empty);
        s.record("a", 5u64);
        s.record("a", "six");
        let _s = s.enter();
        tracing::info!("recorded");
    }

    fn capture(ours: bool) -> String {
        let out = Captured::default();
        let writer = {
            let out = out.clone();
            move || out.clone()
        };
        let builder =
            tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_max_level(tracing::Level::TRACE);
        if ours {
            tracing::subscriber::with_default(builder.fmt_fields(Fields).event_format(Line).finish(), events);
        } else {
            tracing::subscriber::with_default(builder.finish(), events);
        }
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn plain_floats_print_as_debug_does() {
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut values = vec![0.0, -0.0, 1e-3, 0.125, 1.0, 3.0, 0.1 + 0.2, 999.999, 1e9 - 0.001, 123456.789];
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = f64::from_bits(state);
            if v.is_finite() && PLAIN_F64.contains(&v.abs()) {
                values.push(v);
            }
            values.push((state % 10_000_000) as f64 / 1e3);
            let scaled = (state >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((state % 13) as i32 - 3);
            if PLAIN_F64.contains(&scaled) {
                values.push(scaled);
            }
        }
        for v in values {
            assert_eq!(ryu::Buffer::new().format_finite(v), format!("{v:?}"));
        }
    }

    #[test]
    fn lines_are_the_default_formatters_after_the_timestamp() {
        let (ours, theirs) = (capture(true), capture(false));
        let strip = |text: &str| -> Vec<String> {
            text.lines().map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string()).collect()
        };
        assert_eq!(strip(&ours), strip(&theirs), "ours:\n{ours}\ntheirs:\n{theirs}");
        assert_eq!(ours.lines().count(), 10, "{ours}");
        assert!(ours.contains("INFO modelio::request: request method=GET path=/models/a b/model.json status=200"));
        for (a, b) in ours.lines().zip(theirs.lines()) {
            let (ta, tb) = (a.split(' ').next().unwrap(), b.split(' ').next().unwrap());
            assert_eq!((ta.len(), &ta[..4], ta.as_bytes()[10], ta.ends_with('Z')), (tb.len(), &tb[..4], b'T', true));
        }
    }
}
