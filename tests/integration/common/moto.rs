//! `moto_server` on 127.0.0.1 (started and stopped by the test) and real Cognito users and
//! tokens made in it by `scripts/cognito_local.py`, the same script the demo uses.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A tool from the project's `.venv` (made by `scripts/test.sh`), else from `PATH`.
pub fn tool(name: &str) -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    if venv.exists() {
        venv
    } else {
        PathBuf::from(name)
    }
}

pub struct Moto {
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// Starts moto_server on a port the kernel picks (`-p 0`) and reads the port back from
    /// its "Running on" line: choosing a free port first and passing it on races with the
    /// other tests running in parallel, two of which then share one server.
    pub fn start() -> Self {
        let mut child = Command::new(tool("moto_server"))
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("moto_server not found: run scripts/test.sh, which installs requirements.txt into .venv");
        let stderr = child.stderr.take().expect("moto_server stderr");
        // Owned from here on, so a panic below (no port, no answer) stops the server too.
        let mut moto = Self {
            endpoint: String::new(),
            child,
        };
        let (port_tx, port_rx) = mpsc::channel();
        // Reads the port, then keeps draining: werkzeug logs every request to stderr.
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .split_once("Running on http://127.0.0.1:")
                    .and_then(|(_, rest)| rest.trim().parse::<u16>().ok())
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port);
                }
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("moto_server did not report its port within 30 s");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto.endpoint = format!("http://127.0.0.1:{port}");
        moto
    }

    /// A user pool, app client and users `alice` and `bob`, with their tokens.
    pub fn cognito(&self) -> Value {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/cognito_local.py");
        let python = if tool("python").exists() {
            tool("python")
        } else {
            PathBuf::from("python3")
        };
        let output = Command::new(python)
            .arg(script)
            .args([
                "--endpoint",
                &self.endpoint,
                "--region",
                "us-east-1",
                "--username",
                "alice",
                "--other-username",
                "bob",
            ])
            .output()
            .expect("run cognito_local.py");
        assert!(
            output.status.success(),
            "cognito_local.py: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("cognito_local.py JSON")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
