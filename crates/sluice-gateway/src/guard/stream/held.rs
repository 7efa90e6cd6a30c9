//! The hold-back queue of a guarded stream (see [`super`]): chunks wait
//! until enough text follows them, are checked as they arrive, and are
//! rewritten (redaction, restoration) as they leave.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;
use sluice_protocol::Error;

use crate::guard::body::{chunk_text, set_chunk_text};
use crate::guard::detect::Hit;
use crate::guard::dlp::{Action, Findings, Vault};
use crate::guard::{Kind, Policy, blocked, dlp_event, event};
use crate::provider::{Chunk, ChunkStream};
use crate::record::RecordHandle;

/// A chunk waiting in the queue.
struct Held {
    chunk: Chunk,
    value: Option<Value>,
    text: String,
}

/// One replacement in the held text.
struct Span {
    start: usize,
    end: usize,
    with: String,
}

/// See [`super::guard`].
pub(super) struct Guarded {
    inner: ChunkStream,
    watched: Vec<Arc<Policy>>,
    /// Per watched policy (empty for output guards).
    findings: Vec<Findings>,
    /// Index of the policy that cut the stream.
    cut_by: Option<usize>,
    vault: Vault,
    record: RecordHandle,
    hold: usize,
    pending: VecDeque<Held>,
    pending_text: usize,
    /// The last `hold` bytes of text already released.
    sent_tail: String,
    out: VecDeque<Result<Chunk, Error>>,
    done: bool,
    reported: bool,
    hits: Vec<Hit>,
}

impl Guarded {
    pub(super) fn new(
        inner: ChunkStream,
        watched: Vec<Arc<Policy>>,
        vault: Vault,
        record: RecordHandle,
        hold: usize,
    ) -> Self {
        let findings = watched
            .iter()
            .map(|p| match &p.kind {
                Kind::Dlp(d) => d.findings(),
                _ => Findings::default(),
            })
            .collect();
        Self {
            inner,
            watched,
            findings,
            cut_by: None,
            vault,
            record,
            hold,
            pending: VecDeque::new(),
            pending_text: 0,
            sent_tail: String::new(),
            out: VecDeque::new(),
            done: false,
            reported: false,
            hits: Vec::new(),
        }
    }

    fn on_chunk(&mut self, chunk: Chunk) {
        let value = serde_json::from_slice::<Value>(&chunk.data).ok();
        let text = value.as_ref().map(chunk_text).unwrap_or_default();
        if text.is_empty() && self.pending.is_empty() {
            self.out.push_back(Ok(chunk));
            return;
        }
        self.pending_text += text.len();
        self.pending.push_back(Held { chunk, value, text });
        if let Some(i) = self.violation() {
            self.cut(i);
            return;
        }
        while self.pending.len() > 1 && self.pending_text - self.pending[0].text.len() >= self.hold
        {
            self.release_front();
        }
    }

    fn held_text(&self) -> String {
        let mut p = String::with_capacity(self.pending_text);
        for h in &self.pending {
            p.push_str(&h.text);
        }
        p
    }

    /// The first policy the sent tail plus the held text violates.
    fn violation(&mut self) -> Option<usize> {
        let mut window = self.sent_tail.clone();
        let base = window.len();
        window.push_str(&self.held_text());
        for (i, p) in self.watched.iter().enumerate() {
            match &p.kind {
                Kind::OutputGuard(g) if g.deny.is_match(&window) => return Some(i),
                Kind::Dlp(d) if d.actions.contains(&Action::Block) => {
                    self.hits.clear();
                    d.scanner.scan(&window, &mut self.hits);
                    let hit = self
                        .hits
                        .iter()
                        .find(|h| h.end > base && d.actions[h.detector] == Action::Block);
                    if let Some(h) = hit {
                        if let Some(c) = self.findings[i].counts.get_mut(h.detector) {
                            *c += 1;
                        }
                        self.findings[i].blocked = true;
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Replacements starting in the first `front` bytes of `held`.
    fn spans(&mut self, held: &str, front: usize, count: bool) -> Vec<Span> {
        let mut spans = Vec::new();
        for (i, p) in self.watched.iter().enumerate() {
            let Kind::Dlp(d) = &p.kind else { continue };
            self.hits.clear();
            d.scanner.scan(held, &mut self.hits);
            for h in self.hits.iter().filter(|h| h.start < front) {
                let name = &d.scanner.detectors()[h.detector].name;
                if count && let Some(c) = self.findings[i].counts.get_mut(h.detector) {
                    *c += 1;
                }
                if matches!(d.actions[h.detector], Action::Redact | Action::Restore) {
                    if count {
                        self.findings[i].changed = true;
                    }
                    spans.push(Span {
                        start: h.start,
                        end: h.end,
                        with: format!("[REDACTED_{}]", name.to_ascii_uppercase()),
                    });
                }
            }
        }
        for (placeholder, value) in self.vault.entries() {
            let mut from = 0;
            while let Some(at) = held[from..].find(placeholder) {
                let start = from + at;
                if start >= front {
                    break;
                }
                spans.push(Span {
                    start,
                    end: start + placeholder.len(),
                    with: value.to_owned(),
                });
                from = start + placeholder.len();
            }
        }
        spans.sort_by_key(|s| s.start);
        let mut last = 0;
        spans.retain(|s| {
            let keep = s.start >= last;
            if keep {
                last = s.end;
            }
            keep
        });
        spans
    }

    /// Moves the text of the next held chunk that has any into the first
    /// one. `false` when there is none, or a chunk has no text slot.
    fn merge_next(&mut self) -> bool {
        let Some(j) = (1..self.pending.len()).find(|&j| !self.pending[j].text.is_empty()) else {
            return false;
        };
        let merged = format!("{}{}", self.pending[0].text, self.pending[j].text);
        let ok = [(0, merged.as_str()), (j, "")].iter().all(|(i, t)| {
            self.pending
                .get(*i)
                .and_then(|h| h.value.clone())
                .is_some_and(|mut v| set_chunk_text(&mut v, t))
        });
        if !ok {
            return false;
        }
        for (i, t) in [(0, merged), (j, String::new())] {
            if let Some(h) = self.pending.get_mut(i) {
                if let Some(v) = &mut h.value {
                    set_chunk_text(v, &t);
                    h.chunk.data = Bytes::from(v.to_string());
                }
                h.text = t;
            }
        }
        true
    }

    fn release_front(&mut self) {
        loop {
            let held = self.held_text();
            let front = self.pending.front().map_or(0, |h| h.text.len());
            let need = self
                .spans(&held, front, false)
                .iter()
                .map(|s| s.end)
                .max()
                .unwrap_or(0);
            if need <= front || !self.merge_next() {
                break;
            }
        }
        let held = self.held_text();
        let front = self.pending.front().map_or(0, |h| h.text.len());
        let spans = self.spans(&held, front, true);
        let Some(mut h) = self.pending.pop_front() else {
            return;
        };
        self.pending_text -= h.text.len();
        if !spans.is_empty() {
            let mut text = String::with_capacity(h.text.len());
            let mut last = 0;
            for s in spans.iter().filter(|s| s.end <= h.text.len()) {
                text.push_str(&h.text[last..s.start]);
                text.push_str(&s.with);
                last = s.end;
            }
            text.push_str(&h.text[last..]);
            if let Some(v) = &mut h.value
                && text != h.text
                && set_chunk_text(v, &text)
            {
                h.chunk.data = Bytes::from(v.to_string());
                h.text = text;
            }
        }
        self.sent_tail.push_str(&h.text);
        if self.sent_tail.len() > self.hold {
            let mut cut = self.sent_tail.len() - self.hold;
            while !self.sent_tail.is_char_boundary(cut) {
                cut += 1;
            }
            self.sent_tail.drain(..cut);
        }
        self.out.push_back(Ok(h.chunk));
    }

    fn flush(&mut self) {
        while !self.pending.is_empty() {
            self.release_front();
        }
    }

    fn cut(&mut self, i: usize) {
        self.pending.clear();
        self.pending_text = 0;
        self.cut_by = Some(i);
        self.done = true;
        let name = self.watched[i].name.clone();
        tracing::info!(policy = %name, "a guardrail cut the streamed answer");
        self.out.push_back(Err(blocked(&name, "answer")));
    }

    fn report(&mut self) {
        if self.reported {
            return;
        }
        self.reported = true;
        let events: Vec<_> = self
            .watched
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let cut = self.cut_by == Some(i);
                match &p.kind {
                    Kind::Dlp(d) => dlp_event(p, d, &self.findings[i], "output"),
                    Kind::Remote(_) | Kind::Transform(_) => {
                        let mut e = event(p, "output", "not_run");
                        e.ran = false;
                        e.note = Some(
                            "remote checks and transformers do not run on streamed answers".into(),
                        );
                        e
                    }
                    _ if cut => event(p, "output", "blocked"),
                    _ if self.cut_by.is_some() || !self.done => {
                        let mut e = event(p, "output", "passed");
                        e.ran = false;
                        e.note = Some("the stream ended before the check finished".into());
                        e.outcome = "not_finished".into();
                        e
                    }
                    _ => event(p, "output", "passed"),
                }
            })
            .collect();
        self.record.update(|r| r.guardrails.extend(events));
    }
}

impl Stream for Guarded {
    type Item = Result<Chunk, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(item) = self.out.pop_front() {
                return Poll::Ready(Some(item));
            }
            if self.done {
                self.report();
                return Poll::Ready(None);
            }
            match std::task::ready!(self.inner.as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => self.on_chunk(chunk),
                Some(Err(e)) => {
                    self.flush();
                    self.out.push_back(Err(e));
                    self.done = true;
                }
                None => {
                    self.flush();
                    self.done = true;
                }
            }
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.report();
    }
}
