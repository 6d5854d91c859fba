//! A JWKS endpoint on 127.0.0.1 whose behaviour a test can change at any time, counting
//! the requests it gets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::http::{Response, Server};

/// What the endpoint does next.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// 200 with this body.
    Serve(String),
    /// This status with a small body.
    Status(u16),
    /// Sleep this long, then 200 with the body.
    Delay(Duration, String),
    /// 302 to another URL.
    Redirect(String),
}

pub struct JwksServer {
    server: Server,
    behavior: Arc<Mutex<Behavior>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    pub fn start(behavior: Behavior) -> Self {
        let behavior = Arc::new(Mutex::new(behavior));
        let hits = Arc::new(AtomicUsize::new(0));
        let (b, h) = (Arc::clone(&behavior), Arc::clone(&hits));
        let server = Server::start(move |_request| {
            h.fetch_add(1, Ordering::SeqCst);
            let current = b.lock().expect("behavior lock").clone();
            Some(match current {
                Behavior::Serve(body) => {
                    Response::new(200, body).header("content-type", "application/json")
                }
                Behavior::Status(code) => Response::new(code, "{\"error\":\"upstream\"}"),
                Behavior::Delay(pause, body) => {
                    thread::sleep(pause);
                    Response::new(200, body)
                }
                Behavior::Redirect(to) => Response::new(302, "").header("location", &to),
            })
        });
        Self {
            server,
            behavior,
            hits,
        }
    }

    pub fn url(&self) -> String {
        self.server.url("/.well-known/jwks.json")
    }

    pub fn set(&self, behavior: Behavior) {
        *self.behavior.lock().expect("behavior lock") = behavior;
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
