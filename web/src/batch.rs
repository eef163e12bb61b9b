//! What the page and its batch worker say to each other (see `bin/grapevine-worker.rs`).
//!
//! Messages are plain JS objects with a `kind` field, built and read here only, so both sides
//! share one definition. Settings travel as the page's query string: one way to write them.

use grapevine_core::experiment::RunFigures;
use js_sys::{Float64Array, Object, Reflect};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

/// The page's side of one batch worker (the batch panel has one, the compare panel several).
/// Dropping it terminates the worker: a busy worker reads no messages, so that is how a batch
/// is cancelled.
pub struct BatchWorker {
    worker: Worker,
    /// Whether it has said [`Reply::Ready`] (requests sent before would be lost).
    pub ready: bool,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl BatchWorker {
    /// Starts a worker; `on_reply` gets each of its replies, or why it failed (an unreadable
    /// message, an error in the worker), in words.
    pub fn start(
        on_reply: impl Fn(Result<Reply, String>) + 'static,
    ) -> Result<BatchWorker, String> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let worker = Worker::new_with_options("./grapevine-worker_loader.js", &options)
            .map_err(|e| format!("A batch worker could not start: {e:?}"))?;
        let on_reply = std::rc::Rc::new(on_reply);
        let replies = on_reply.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            replies(
                Reply::from_js(&e.data())
                    .ok_or_else(|| "A batch worker sent something unreadable.".to_string()),
            );
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            on_reply(Err(
                "A batch worker stopped with an error (see the console).".into(),
            ));
        });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(BatchWorker {
            worker,
            ready: false,
            _on_message: on_message,
            _on_error: on_error,
        })
    }

    /// Sends a request.
    pub fn send(&self, request: &Request) {
        let _ = self.worker.post_message(&request.to_js());
    }
}

impl Drop for BatchWorker {
    fn drop(&mut self) {
        // Its handlers go with it: a message already queued must not reach them.
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}

/// The page asks.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Play runs `first..first + runs` of the settings in `query` (the page's own query
    /// string): the batch panel asks for all of them, the compare panel shares a point's runs
    /// among its workers.
    Run {
        /// `?nodes=...&seed=...`, as [`crate::params::PageSettings::to_query`] writes it.
        query: String,
        /// The first run's index (0 when a message leaves it out).
        first: u32,
        /// How many runs.
        runs: u32,
    },
    /// Measure the round engine (push, fanout 1) on `nodes` nodes, as `grapevine bench` does.
    Bench {
        /// Nodes.
        nodes: u32,
        /// Messages per measurement.
        messages: f64,
        /// Alternating engine / baseline measurements.
        reps: u32,
    },
    /// Measure live mode's identities, as `grapevine bench --signatures` does.
    BenchSignatures {
        /// Measurements (medians are reported).
        reps: u32,
    },
}

/// The worker answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Loaded; requests sent before this would have been lost.
    Ready,
    /// `done` runs finished so far.
    Progress {
        /// Runs finished.
        done: u32,
    },
    /// Every run's figures, in run order.
    Done {
        /// The figures.
        figures: Vec<RunFigures>,
    },
    /// Median engine ns per message and baseline ns per operation.
    Bench {
        /// Engine.
        engine_ns: f64,
        /// Baseline.
        baseline_ns: f64,
    },
    /// Median ns to sign, to verify, and to encode and decode a signed message.
    BenchSignatures {
        /// Signing one statement.
        sign_ns: f64,
        /// Verifying one proof.
        verify_ns: f64,
        /// The baseline: one signed ping encoded and decoded.
        message_ns: f64,
    },
    /// The request could not be served.
    Error {
        /// Why, in words for the page.
        message: String,
    },
}

/// Numbers per run in a `Done` message.
const FIELDS: usize = 10;

fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined())
}

fn number(obj: &JsValue, key: &str) -> Option<f64> {
    get(obj, key)?.as_f64()
}

fn message(kind: &str) -> Object {
    let obj = Object::new();
    set(&obj, "kind", kind);
    obj
}

impl Request {
    /// As a JS object for `postMessage`.
    pub fn to_js(&self) -> JsValue {
        match self {
            Request::Run { query, first, runs } => {
                let m = message("run");
                set(&m, "query", query.as_str());
                set(&m, "first", *first);
                set(&m, "runs", *runs);
                m.into()
            }
            Request::Bench {
                nodes,
                messages,
                reps,
            } => {
                let m = message("bench");
                set(&m, "nodes", *nodes);
                set(&m, "messages", *messages);
                set(&m, "reps", *reps);
                m.into()
            }
            Request::BenchSignatures { reps } => {
                let m = message("bench-signatures");
                set(&m, "reps", *reps);
                m.into()
            }
        }
    }

    /// Reads a request; `None` for anything else.
    pub fn from_js(v: &JsValue) -> Option<Request> {
        match get(v, "kind")?.as_string()?.as_str() {
            "run" => Some(Request::Run {
                query: get(v, "query")?.as_string()?,
                first: number(v, "first").unwrap_or(0.0) as u32,
                runs: number(v, "runs")? as u32,
            }),
            "bench" => Some(Request::Bench {
                nodes: number(v, "nodes")? as u32,
                messages: number(v, "messages")?,
                reps: number(v, "reps")? as u32,
            }),
            "bench-signatures" => Some(Request::BenchSignatures {
                reps: number(v, "reps")? as u32,
            }),
            _ => None,
        }
    }
}

impl Reply {
    /// As a JS object for `postMessage`.
    pub fn to_js(&self) -> JsValue {
        match self {
            Reply::Ready => message("ready").into(),
            Reply::Progress { done } => {
                let m = message("progress");
                set(&m, "done", *done);
                m.into()
            }
            Reply::Done { figures } => {
                let mut flat = Vec::with_capacity(figures.len() * FIELDS);
                for f in figures {
                    flat.extend([
                        f64::from(f.run),
                        (f.seed >> 32) as f64,
                        (f.seed & 0xffff_ffff) as f64,
                        f64::from(f.rounds),
                        f.rounds_to_full.map_or(-1.0, f64::from),
                        f.residue,
                        f.messages_per_node,
                        f.t_ave,
                        f64::from(f.t_last),
                        f.redundant_share,
                    ]);
                }
                let m = message("done");
                set(&m, "figures", Float64Array::from(flat.as_slice()));
                m.into()
            }
            Reply::Bench {
                engine_ns,
                baseline_ns,
            } => {
                let m = message("bench");
                set(&m, "engine_ns", *engine_ns);
                set(&m, "baseline_ns", *baseline_ns);
                m.into()
            }
            Reply::BenchSignatures {
                sign_ns,
                verify_ns,
                message_ns,
            } => {
                let m = message("bench-signatures");
                set(&m, "sign_ns", *sign_ns);
                set(&m, "verify_ns", *verify_ns);
                set(&m, "message_ns", *message_ns);
                m.into()
            }
            Reply::Error { message: text } => {
                let m = message("error");
                set(&m, "message", text.as_str());
                m.into()
            }
        }
    }

    /// Reads a reply; `None` for anything else.
    pub fn from_js(v: &JsValue) -> Option<Reply> {
        match get(v, "kind")?.as_string()?.as_str() {
            "ready" => Some(Reply::Ready),
            "progress" => Some(Reply::Progress {
                done: number(v, "done")? as u32,
            }),
            "done" => {
                let flat = Float64Array::from(get(v, "figures")?).to_vec();
                let figures = flat
                    .chunks_exact(FIELDS)
                    .map(|c| RunFigures {
                        run: c[0] as u32,
                        seed: ((c[1] as u64) << 32) | c[2] as u64,
                        rounds: c[3] as u32,
                        rounds_to_full: (c[4] >= 0.0).then_some(c[4] as u32),
                        residue: c[5],
                        messages_per_node: c[6],
                        t_ave: c[7],
                        t_last: c[8] as u32,
                        redundant_share: c[9],
                    })
                    .collect();
                Some(Reply::Done { figures })
            }
            "bench" => Some(Reply::Bench {
                engine_ns: number(v, "engine_ns")?,
                baseline_ns: number(v, "baseline_ns")?,
            }),
            "bench-signatures" => Some(Reply::BenchSignatures {
                sign_ns: number(v, "sign_ns")?,
                verify_ns: number(v, "verify_ns")?,
                message_ns: number(v, "message_ns")?,
            }),
            "error" => Some(Reply::Error {
                message: get(v, "message")?.as_string()?,
            }),
            _ => None,
        }
    }
}

/// A `blob:` URL of `csv`, for a download link (revoke it when the link goes).
pub fn csv_url(csv: &str) -> String {
    text_url(csv, "text/csv")
}

/// A `blob:` URL of `text` of type `mime`, for a download (revoke it when done).
pub fn text_url(text: &str, mime: &str) -> String {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .and_then(|blob| web_sys::Url::create_object_url_with_blob(&blob))
        .unwrap_or_default()
}

/// The batch as CSV, one row per run: what the page's download button saves.
pub fn to_csv(figures: &[RunFigures]) -> String {
    let mut csv =
        String::from("run,seed,rounds,rounds_to_full,residue,messages_per_node,t_ave,t_last\n");
    for f in figures {
        let full = f.rounds_to_full.map(|r| r.to_string()).unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{full},{},{},{},{}\n",
            f.run, f.seed, f.rounds, f.residue, f.messages_per_node, f.t_ave, f.t_last
        ));
    }
    csv
}
