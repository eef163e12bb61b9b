//! The page's batch worker: plays many seeded runs (or the engine benchmark) off the main
//! thread, so the page stays responsive. The page cancels a batch by terminating the worker.

use grapevine_core::experiment::{play_run, DEFAULT_MAX_ROUNDS};
use grapevine_web::batch::{Reply, Request};
use grapevine_web::params::PageSettings;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

/// Progress messages at most this often (ms): enough for a smooth bar, cheap to post.
const PROGRESS_EVERY_MS: f64 = 50.0;

fn serve(scope: &DedicatedWorkerGlobalScope, request: Request) -> Reply {
    let post = |reply: Reply| {
        let _ = scope.post_message(&reply.to_js());
    };
    match request {
        Request::Run { query, first, runs } => {
            // The page sends queries it wrote: a notice means the two read settings apart,
            // and the runs would not be the ones asked for (nor `grapevine sim`'s).
            let (page, notices) = PageSettings::from_query(&query);
            if !notices.is_empty() {
                return Reply::Error {
                    message: format!(
                        "The worker read other settings than sent: {}",
                        notices.join(" ")
                    ),
                };
            }
            let settings = page.run;
            if let Err(e) = settings.validate() {
                return Reply::Error {
                    message: e.to_string(),
                };
            }
            let mut figures = Vec::with_capacity(runs as usize);
            let mut last_post = js_sys::Date::now();
            let end = first.saturating_add(runs);
            for i in first..end {
                match play_run(settings, i, DEFAULT_MAX_ROUNDS) {
                    Ok(run) => figures.push(run.figures),
                    Err(e) => {
                        return Reply::Error {
                            message: e.to_string(),
                        }
                    }
                }
                let now = js_sys::Date::now();
                if now - last_post >= PROGRESS_EVERY_MS || i + 1 == end {
                    post(Reply::Progress {
                        done: i + 1 - first,
                    });
                    last_post = now;
                }
            }
            Reply::Done { figures }
        }
        Request::Bench {
            nodes,
            messages,
            reps,
        } => {
            let performance = scope.performance();
            let mut now_ns = move || performance.as_ref().map_or(0.0, |p| p.now() * 1e6);
            let settings = grapevine_core::Settings {
                nodes,
                ..Default::default()
            };
            let (mut engine, mut baseline) = (Vec::new(), Vec::new());
            for _ in 0..reps.max(1) {
                match grapevine_core::bench::engine(settings, messages as u64, &mut now_ns) {
                    Ok((m, ns)) if m > 0 => {
                        engine.push(ns / m as f64);
                        baseline.push(
                            grapevine_core::bench::baseline(nodes, m, &mut now_ns) / m as f64,
                        );
                    }
                    Ok(_) => {
                        return Reply::Error {
                            message: "no message was sent".into(),
                        }
                    }
                    Err(e) => {
                        return Reply::Error {
                            message: e.to_string(),
                        }
                    }
                }
            }
            let median = |xs: &mut Vec<f64>| {
                xs.sort_by(f64::total_cmp);
                xs[xs.len() / 2]
            };
            Reply::Bench {
                engine_ns: median(&mut engine),
                baseline_ns: median(&mut baseline),
            }
        }
        Request::BenchSignatures { reps } => {
            let performance = scope.performance();
            let mut now_ns = move || performance.as_ref().map_or(0.0, |p| p.now() * 1e6);
            let costs: Vec<_> = (0..reps.max(1))
                .map(|_| grapevine_core::bench::signatures(2_000, &mut now_ns))
                .collect();
            let median = |pick: fn(&grapevine_core::bench::SignatureCost) -> f64| {
                let mut xs: Vec<f64> = costs.iter().map(pick).collect();
                xs.sort_by(f64::total_cmp);
                xs[xs.len() / 2]
            };
            let (sign_ns, verify_ns, message_ns) = (
                median(|c| c.sign_ns),
                median(|c| c.verify_ns),
                median(|c| c.message_ns),
            );
            Reply::BenchSignatures {
                sign_ns,
                verify_ns,
                message_ns,
            }
        }
    }
}

fn main() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let replier = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let reply = match Request::from_js(&event.data()) {
            Some(request) => serve(&replier, request),
            None => Reply::Error {
                message: "the worker got a message it does not understand".into(),
            },
        };
        let _ = replier.post_message(&reply.to_js());
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The worker lives as long as the page keeps it: the handler must too.
    on_message.forget();
    let _ = scope.post_message(&Reply::Ready.to_js());
}
