//! What offering the post-quantum hybrid X25519MLKEM768 first would cost a cold start:
//! the time a fresh process spends making its first TLS key share, and its second, with
//! this crate's X25519 (kernel randomness, `src/transport/tls.rs`) or with rustls' stock
//! aws-lc-rs X25519MLKEM768 (whose ML-KEM key comes from aws-lc's own DRBG).
//!
//! `cargo run --release --example key_share_cost -- x25519|x25519mlkem768` prints one
//! JSON line. Run it in several fresh processes: the first share of a process is what a
//! cold start pays. The work is computation on the process's only thread, so its wall
//! time is CPU time (on Lambda, multiply by the memory size's share: 128 MB is 1/14 of a
//! vCPU).

use std::time::Instant;

use rustls::crypto::SupportedKxGroup;

fn main() -> Result<(), String> {
    let group: &dyn SupportedKxGroup = match std::env::args().nth(1).as_deref() {
        Some("x25519") => *jwt_authorizer::transport::tls::provider()
            .kx_groups
            .first()
            .ok_or("no group")?,
        Some("x25519mlkem768") => rustls::crypto::aws_lc_rs::kx_group::X25519MLKEM768,
        other => return Err(format!("expected x25519 or x25519mlkem768, got {other:?}")),
    };
    let mut shares = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        let share = group.start().map_err(|e| e.to_string())?;
        shares.push((started.elapsed().as_secs_f64() * 1e6, share.pub_key().len()));
    }
    let [(first_us, bytes), (second_us, _)] = shares[..] else {
        return Err("two shares".into());
    };
    println!(
        "{{\"group\":\"{:?}\",\"share_bytes\":{bytes},\"first_us\":{first_us:.1},\"second_us\":{second_us:.1}}}",
        group.name()
    );
    Ok(())
}
