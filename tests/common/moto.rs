//! `moto_server` on 127.0.0.1 (started and stopped by the test) and real Cognito users and
//! tokens made in it by `scripts/cognito_local.py`, the same script the demo uses.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(tool("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server not found: run scripts/test.sh, which installs requirements.txt into .venv");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        }
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
