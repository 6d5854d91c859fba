//! A Lambda Runtime API host on 127.0.0.1, so a test can run the built `authorizer`
//! binary exactly as Lambda does: the binary polls `invocation/next`, posts a response
//! or an error, and the test reads it back.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::http::{Response, Server};

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Value)>,
    results: HashMap<String, Result<Value, Value>>,
    next_id: u64,
    /// `/runtime/init/error` posts: the error type header and the body.
    init_errors: Vec<(String, Value)>,
}

pub struct RuntimeApi {
    server: Server,
    state: Arc<(Mutex<State>, Condvar)>,
}

const PREFIX: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";

impl RuntimeApi {
    pub fn start() -> Self {
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let shared = Arc::clone(&state);
        let server = Server::start(move |request| {
            let (lock, ready) = &*shared;
            if request.method == "GET" && request.path == format!("{PREFIX}next") {
                let mut state = lock.lock().unwrap();
                loop {
                    if let Some((id, event)) = state.queue.pop_front() {
                        let deadline = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis()
                            + 30_000;
                        return Some(
                            Response::new(200, event.to_string())
                                .header("lambda-runtime-aws-request-id", &id)
                                .header("lambda-runtime-deadline-ms", &deadline.to_string())
                                .header(
                                    "lambda-runtime-invoked-function-arn",
                                    "arn:aws:lambda:us-east-1:123456789012:function:authorizer",
                                )
                                .header(
                                    "lambda-runtime-trace-id",
                                    "Root=1-00000000-000000000000000000000000",
                                ),
                        );
                    }
                    state = ready.wait(state).unwrap();
                }
            }
            if request.method == "POST" && request.path == INIT_ERROR {
                let kind = request
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("lambda-runtime-function-error-type"))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                lock.lock().unwrap().init_errors.push((kind, body));
                return Some(Response::new(202, "{}"));
            }
            let rest = request.path.strip_prefix(PREFIX)?;
            let (id, what) = rest.split_once('/')?;
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let result = match what {
                "response" => Ok(body),
                "error" => Err(body),
                _ => return Some(Response::new(404, "")),
            };
            lock.lock().unwrap().results.insert(id.to_owned(), result);
            ready.notify_all();
            Some(Response::new(202, "{}"))
        });
        Self { server, state }
    }

    /// What the function posted to `/runtime/init/error`: (error type header, body).
    pub fn init_errors(&self) -> Vec<(String, Value)> {
        self.state.0.lock().unwrap().init_errors.clone()
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the function process.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.server.port)
    }

    /// Queues `event` and waits for the function's answer: `Ok(response)` or `Err(error body)`.
    pub fn invoke(&self, event: &Value) -> Result<Value, Value> {
        let (lock, ready) = &*self.state;
        let mut state = lock.lock().unwrap();
        state.next_id += 1;
        let id = format!("req-{}", state.next_id);
        state.queue.push_back((id.clone(), event.clone()));
        ready.notify_all();
        let (mut state, timeout) = ready
            .wait_timeout_while(state, Duration::from_secs(20), |s| {
                !s.results.contains_key(&id)
            })
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "no answer from the function within 20 s"
        );
        state.results.remove(&id).unwrap()
    }

    /// Starts `binary` as a Lambda function process pointed at this host.
    pub fn spawn(&self, binary: &Path, env: &[(&str, String)]) -> Child {
        Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "authorizer")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn function binary")
    }
}
