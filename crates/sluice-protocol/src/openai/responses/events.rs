//! Canonical chat chunks → Responses stream events, for a Responses client
//! streaming from a provider that only speaks chat.
//!
//! A pure state machine fed one chunk at a time by the gateway's stream
//! writer. The first chunk produces `response.created` and
//! `response.in_progress`. One output item is open at a time: a `reasoning`
//! item for reasoning deltas, a `message` item (with one `output_text` part)
//! for text, a `function_call` item per tool call; switching kind finishes
//! the open item (`*.done` events, then `response.output_item.done`). The end
//! of the upstream stream finishes the last item and produces
//! `response.completed` (or `response.incomplete` when the output was cut by
//! `max_output_tokens`) with the whole response and its usage. Every event
//! carries a growing `sequence_number`; item ids and the final object agree,
//! as the SDKs' stream accumulators check.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::Echo;
use super::reply::{
    ItemIds, Output, function_item, message_item, reasoning_item, text_part, usage,
};
use crate::Error;
use crate::openai::chat::{ChatChunk, ToolCallDelta};

#[derive(Debug)]
enum Item {
    Reasoning {
        id: String,
        text: String,
    },
    Message {
        id: String,
        text: String,
    },
    /// `call` indexes [`Output::calls`].
    Call {
        id: String,
        call: usize,
    },
}

/// The translator for one stream.
#[derive(Debug)]
pub struct ResponsesEvents {
    id: String,
    created_at: u64,
    echo: Echo,
    ids: ItemIds,
    seq: u64,
    started: bool,
    ended: bool,
    /// Finished items, in output order.
    done: Vec<Value>,
    open: Option<Item>,
    /// Index in [`Output::calls`] of each OpenAI tool-call index.
    calls: HashMap<u32, usize>,
    /// Reasoning and message items opened so far, for unique ids.
    opened: (usize, usize),
    out: Output,
}

impl ResponsesEvents {
    /// A translator for the response `id`, created at `created_at` (Unix
    /// seconds), repeating `echo`.
    pub fn new(id: &str, created_at: u64, echo: Echo) -> Self {
        Self {
            id: id.to_owned(),
            created_at,
            echo,
            ids: ItemIds::new(id),
            seq: 0,
            started: false,
            ended: false,
            done: Vec::new(),
            open: None,
            calls: HashMap::new(),
            opened: (0, 0),
            out: Output::default(),
        }
    }

    /// What the stream produced so far (the whole answer after [`finish`]).
    ///
    /// [`finish`]: Self::finish
    pub fn output(&self) -> &Output {
        &self.out
    }

    /// The last sequence number used.
    pub fn sequence_number(&self) -> u64 {
        self.seq.saturating_sub(1)
    }

    fn event(&mut self, kind: &str, mut body: Value) -> Value {
        if let Value::Object(m) = &mut body {
            m.insert("type".to_owned(), json!(kind));
            m.insert("sequence_number".to_owned(), json!(self.seq));
        }
        self.seq += 1;
        body
    }

    fn output_index(&self) -> usize {
        self.done.len()
    }

    /// The events for one chunk.
    pub fn on_chunk(&mut self, c: &ChatChunk) -> Vec<Value> {
        let mut ev = Vec::new();
        if self.ended {
            return ev;
        }
        if !c.model.is_empty() {
            self.out.model.clone_from(&c.model);
        }
        if !self.started {
            self.started = true;
            let r = Value::Object(self.echo.response(
                &self.id,
                &self.out.model,
                self.created_at,
                "in_progress",
            ));
            ev.push(self.event("response.created", json!({"response": r})));
            ev.push(self.event("response.in_progress", json!({"response": r})));
        }
        if c.usage.is_some() {
            self.out.usage = c.usage;
        }
        let Some(choice) = c.choices.iter().find(|ch| ch.index == 0) else {
            return ev;
        };
        let d = &choice.delta;
        if let Some(r) = d.reasoning_content.as_deref().filter(|r| !r.is_empty()) {
            self.reasoning_delta(r, &mut ev);
        }
        for text in [d.content.as_deref(), d.refusal.as_deref()]
            .into_iter()
            .flatten()
        {
            if !text.is_empty() {
                self.text_delta(text, &mut ev);
            }
        }
        for call in d.tool_calls.iter().flatten() {
            self.call_delta(call, &mut ev);
        }
        if let Some(f) = &choice.finish_reason {
            self.out.finish = Some(f.clone());
        }
        ev
    }

    /// The closing events, after the upstream stream ended normally.
    pub fn finish(&mut self) -> Vec<Value> {
        let mut ev = Vec::new();
        if self.ended {
            return ev;
        }
        if !self.started {
            self.started = true;
            let r = Value::Object(self.echo.response(
                &self.id,
                &self.out.model,
                self.created_at,
                "in_progress",
            ));
            ev.push(self.event("response.created", json!({"response": r})));
        }
        self.ended = true;
        let (status, incomplete) = self.out.status();
        self.close(status, &mut ev);
        let mut r = self
            .echo
            .response(&self.id, &self.out.model, self.created_at, status);
        r.insert("incomplete_details".to_owned(), incomplete);
        r.insert("output".to_owned(), Value::Array(self.done.clone()));
        r.insert("usage".to_owned(), usage(self.out.usage));
        let kind = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        ev.push(self.event(kind, json!({"response": Value::Object(r)})));
        ev
    }

    /// The `error` event that ends a broken stream. It carries the fields of
    /// Responses' `error` event and, under `error`, OpenAI's error object,
    /// which makes the OpenAI SDKs raise an `APIError`.
    pub fn error(&mut self, e: &Error) -> Value {
        self.ended = true;
        let ev = error_event(e, self.seq);
        self.seq += 1;
        ev
    }

    fn reasoning_delta(&mut self, delta: &str, ev: &mut Vec<Value>) {
        if !matches!(self.open, Some(Item::Reasoning { .. })) {
            self.close("completed", ev);
            let id = nth(self.ids.reasoning(), self.opened.0);
            self.opened.0 += 1;
            let idx = self.output_index();
            let item = reasoning_item(&id, "", "in_progress");
            ev.push(self.event(
                "response.output_item.added",
                json!({"output_index": idx, "item": item}),
            ));
            ev.push(self.event(
                "response.content_part.added",
                json!({"item_id": id, "output_index": idx,
                "content_index": 0, "part": {"type": "reasoning_text", "text": ""}}),
            ));
            self.open = Some(Item::Reasoning {
                id,
                text: String::new(),
            });
        }
        let idx = self.output_index();
        self.out.reasoning.push_str(delta);
        let Some(Item::Reasoning { id, text }) = &mut self.open else {
            return;
        };
        text.push_str(delta);
        let body = json!({"item_id": id, "output_index": idx, "content_index": 0, "delta": delta});
        ev.push(self.event("response.reasoning_text.delta", body));
    }

    fn text_delta(&mut self, delta: &str, ev: &mut Vec<Value>) {
        if !matches!(self.open, Some(Item::Message { .. })) {
            self.close("completed", ev);
            let id = nth(self.ids.message(), self.opened.1);
            self.opened.1 += 1;
            let idx = self.output_index();
            let item = message_item(&id, Vec::new(), "in_progress");
            ev.push(self.event(
                "response.output_item.added",
                json!({"output_index": idx, "item": item}),
            ));
            ev.push(self.event(
                "response.content_part.added",
                json!({"item_id": id, "output_index": idx,
                "content_index": 0, "part": text_part("")}),
            ));
            self.open = Some(Item::Message {
                id,
                text: String::new(),
            });
        }
        let idx = self.output_index();
        self.out.text.push_str(delta);
        let Some(Item::Message { id, text }) = &mut self.open else {
            return;
        };
        text.push_str(delta);
        let body = json!({"item_id": id, "output_index": idx, "content_index": 0, "delta": delta, "logprobs": []});
        ev.push(self.event("response.output_text.delta", body));
    }

    fn call_delta(&mut self, call: &ToolCallDelta, ev: &mut Vec<Value>) {
        let args = call
            .function
            .as_ref()
            .and_then(|f| f.arguments.as_deref())
            .unwrap_or("");
        let slot = match self.calls.get(&call.index) {
            Some(&slot) => slot,
            None => {
                self.close("completed", ev);
                let slot = self.out.calls.len();
                let name = call
                    .function
                    .as_ref()
                    .and_then(|f| f.name.clone())
                    .unwrap_or_default();
                let call_id = call
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("call_{}", self.ids.call(slot)));
                let id = self.ids.call(slot);
                let idx = self.output_index();
                let item = function_item(&id, &call_id, &name, "", "in_progress");
                ev.push(self.event(
                    "response.output_item.added",
                    json!({"output_index": idx, "item": item}),
                ));
                self.out.calls.push((call_id, name, String::new()));
                self.calls.insert(call.index, slot);
                self.open = Some(Item::Call { id, call: slot });
                slot
            }
        };
        if args.is_empty() {
            return;
        }
        if let Some(c) = self.out.calls.get_mut(slot) {
            c.2.push_str(args);
        }
        if let Some(Item::Call { id, call }) = &self.open
            && *call == slot
        {
            let body = json!({"item_id": id, "output_index": self.output_index(), "delta": args});
            ev.push(self.event("response.function_call_arguments.delta", body));
        }
    }

    /// Finishes the open item with `status`.
    fn close(&mut self, status: &str, ev: &mut Vec<Value>) {
        let Some(item) = self.open.take() else {
            return;
        };
        let idx = self.output_index();
        let done = match item {
            Item::Reasoning { id, text } => {
                ev.push(self.event(
                    "response.reasoning_text.done",
                    json!({"item_id": id, "output_index": idx,
                    "content_index": 0, "text": text}),
                ));
                ev.push(self.event(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": idx,
                    "content_index": 0, "part": {"type": "reasoning_text", "text": text}}),
                ));
                reasoning_item(&id, &text, status)
            }
            Item::Message { id, text } => {
                ev.push(self.event(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": idx,
                    "content_index": 0, "text": text, "logprobs": []}),
                ));
                ev.push(self.event(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": idx,
                    "content_index": 0, "part": text_part(&text)}),
                ));
                message_item(&id, vec![text_part(&text)], status)
            }
            Item::Call { id, call } => {
                let (call_id, name, args) = self.out.calls.get(call).cloned().unwrap_or_default();
                ev.push(self.event(
                    "response.function_call_arguments.done",
                    json!({"item_id": id,
                    "output_index": idx, "name": name, "arguments": args}),
                ));
                function_item(&id, &call_id, &name, &args, status)
            }
        };
        ev.push(self.event(
            "response.output_item.done",
            json!({"output_index": idx, "item": done}),
        ));
        self.done.push(done);
    }
}

/// The id of the `n`th item of a kind: the base id, then `base_n`.
fn nth(base: String, n: usize) -> String {
    if n == 0 { base } else { format!("{base}_{n}") }
}

/// The Responses `error` event for `e`, numbered `sequence_number`. Besides
/// the event's own fields (`code`, `message`, `param`) it carries OpenAI's
/// error object under `error`, which makes the OpenAI SDKs raise.
pub fn error_event(e: &Error, sequence_number: u64) -> Value {
    let body = e.to_openai_json();
    let err = body.get("error").cloned().unwrap_or(Value::Null);
    json!({"type": "error", "sequence_number": sequence_number, "code": err.get("code"),
        "message": e.message(), "param": err.get("param"), "error": err})
}
