//! Operational metrics as CloudWatch Embedded Metric Format: counters gathered while the
//! container works (including Lambda init) and written as one EMF line per invocation,
//! so an operator can graph decisions, which key tier served, fetches and table errors,
//! and revocation (tokens refused, lookups, lookup errors, tokens decided unchecked).
//!
//! Where keys came from is said twice, once per question: `KeysFromMemory`,
//! `KeysFromTable` and `KeysFromJwks` say where this invocation's key was read (memory:
//! loaded before this invocation, by Lambda init or an earlier one); `InitKeysFromTable`,
//! `InitKeysFromJwks` and `InitKeysMissing` count, per issuer, what Lambda init loaded,
//! and so appear on the container's first line only. A cold start served from the table
//! reads `KeysFromMemory: 1, InitKeysFromTable: 1`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};

use crate::outcome::{Outcome, Tier};

/// Counters shared by the key tiers; taken (and reset) once per invocation.
#[derive(Debug, Default)]
pub struct Counters {
    jwks_fetches: AtomicU64,
    jwks_errors: AtomicU64,
    table_reads: AtomicU64,
    table_errors: AtomicU64,
    table_writes: AtomicU64,
    stale_keys_served: AtomicU64,
    revoked_tokens: AtomicU64,
    revocation_lookups: AtomicU64,
    revocation_errors: AtomicU64,
    revocation_unchecked: AtomicU64,
    replay_writes: AtomicU64,
    replay_errors: AtomicU64,
    replay_unchecked: AtomicU64,
    init_keys_from_table: AtomicU64,
    init_keys_from_jwks: AtomicU64,
    init_keys_missing: AtomicU64,
    registry_lookups: AtomicU64,
    registry_errors: AtomicU64,
    registry_over_budget: AtomicU64,
}

/// One counter of [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// A JWKS (or discovery) request was made.
    JwksFetches,
    /// A JWKS request failed or returned an unusable document.
    JwksErrors,
    /// A GetItem on the keys table was made.
    TableReads,
    /// A table call failed (timeout, throttling, unreachable…).
    TableErrors,
    /// A PutItem on the keys table stored a newer key set.
    TableWrites,
    /// A decision used keys past their `expires_at` because fresher ones were unreachable.
    StaleKeysServed,
    /// A valid token was refused because a revocation item covers it.
    RevokedTokens,
    /// A revocation lookup went to the table (one BatchGetItem round trip).
    RevocationLookups,
    /// A revocation lookup failed (timeout, throttling, unreachable, an unreadable item).
    RevocationErrors,
    /// A valid token whose revocation status was unknown, decided by
    /// `REVOCATION_ON_ERROR` (allowed or refused).
    RevocationUnchecked,
    /// A DPoP proof's `jti` was written to the replay table (one conditional PutItem).
    ReplayWrites,
    /// A replay table write failed or timed out.
    ReplayErrors,
    /// A proof whose replay across containers could not be checked, decided by
    /// `DPOP_REPLAY_ON_ERROR` (allowed or refused).
    ReplayUnchecked,
    /// Lambda init loaded an issuer's keys from the table (no request to the issuer).
    InitKeysFromTable,
    /// Lambda init fetched an issuer's keys from its JWKS endpoint.
    InitKeysFromJwks,
    /// Lambda init loaded no keys for an issuer (table and issuer unreachable).
    InitKeysMissing,
    /// A tenant registry item was read (GetItem).
    RegistryLookups,
    /// A tenant registry read failed.
    RegistryErrors,
    /// An unknown issuer was refused without a read: `TENANT_LOOKUPS_PER_SECOND` spent.
    RegistryOverBudget,
}

impl Counters {
    /// Adds one to `counter`.
    pub fn add(&self, counter: Counter) {
        self.slot(counter).fetch_add(1, Ordering::Relaxed);
    }

    /// The current value of `counter` (for tests and benchmarks).
    pub fn get(&self, counter: Counter) -> u64 {
        self.slot(counter).load(Ordering::Relaxed)
    }

    fn slot(&self, counter: Counter) -> &AtomicU64 {
        match counter {
            Counter::JwksFetches => &self.jwks_fetches,
            Counter::JwksErrors => &self.jwks_errors,
            Counter::TableReads => &self.table_reads,
            Counter::TableErrors => &self.table_errors,
            Counter::TableWrites => &self.table_writes,
            Counter::StaleKeysServed => &self.stale_keys_served,
            Counter::RevokedTokens => &self.revoked_tokens,
            Counter::RevocationLookups => &self.revocation_lookups,
            Counter::RevocationErrors => &self.revocation_errors,
            Counter::RevocationUnchecked => &self.revocation_unchecked,
            Counter::ReplayWrites => &self.replay_writes,
            Counter::ReplayErrors => &self.replay_errors,
            Counter::ReplayUnchecked => &self.replay_unchecked,
            Counter::InitKeysFromTable => &self.init_keys_from_table,
            Counter::InitKeysFromJwks => &self.init_keys_from_jwks,
            Counter::InitKeysMissing => &self.init_keys_missing,
            Counter::RegistryLookups => &self.registry_lookups,
            Counter::RegistryErrors => &self.registry_errors,
            Counter::RegistryOverBudget => &self.registry_over_budget,
        }
    }

    /// The EMF document of one invocation: the decision's outcome, the tier this
    /// invocation's key was read from, and every counter since the previous one (which
    /// are reset; the first invocation's line carries what Lambda init did).
    pub fn take_emf(
        &self,
        namespace: &str,
        function: &str,
        outcome: Outcome,
        tier: Option<Tier>,
        now_ms: u128,
    ) -> Value {
        let counters = [
            ("JwksFetches", Counter::JwksFetches),
            ("JwksErrors", Counter::JwksErrors),
            ("TableReads", Counter::TableReads),
            ("TableErrors", Counter::TableErrors),
            ("TableWrites", Counter::TableWrites),
            ("StaleKeysServed", Counter::StaleKeysServed),
            ("RevokedTokens", Counter::RevokedTokens),
            ("RevocationLookups", Counter::RevocationLookups),
            ("RevocationErrors", Counter::RevocationErrors),
            ("RevocationUnchecked", Counter::RevocationUnchecked),
            ("DpopReplayWrites", Counter::ReplayWrites),
            ("DpopReplayErrors", Counter::ReplayErrors),
            ("DpopReplayUnchecked", Counter::ReplayUnchecked),
            ("InitKeysFromTable", Counter::InitKeysFromTable),
            ("InitKeysFromJwks", Counter::InitKeysFromJwks),
            ("InitKeysMissing", Counter::InitKeysMissing),
            ("RegistryLookups", Counter::RegistryLookups),
            ("RegistryErrors", Counter::RegistryErrors),
            ("RegistryOverBudget", Counter::RegistryOverBudget),
        ];
        let mut values = Map::new();
        for each in Outcome::ALL {
            values.insert(each.metric().into(), u64::from(each == outcome).into());
        }
        for (name, t) in [
            ("KeysFromMemory", Tier::Memory),
            ("KeysFromTable", Tier::Table),
            ("KeysFromJwks", Tier::Jwks),
        ] {
            values.insert(name.into(), u64::from(tier == Some(t)).into());
        }
        for (name, counter) in counters {
            values.insert(
                name.into(),
                self.slot(counter).swap(0, Ordering::Relaxed).into(),
            );
        }
        // The metric definitions never change: built once, not per invocation.
        static DEFINITIONS: OnceLock<Value> = OnceLock::new();
        let definitions = DEFINITIONS.get_or_init(|| {
            values
                .keys()
                .map(|name| json!({"Name": name, "Unit": "Count"}))
                .collect()
        });
        let mut document = Map::new();
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": now_ms,
                "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [["FunctionName"]], "Metrics": definitions}]
            }),
        );
        document.insert("FunctionName".into(), function.into());
        document.extend(values);
        Value::Object(document)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    /// Finding 11 of the security review: a cold start served from the table read
    /// `KeysFromTable: 0, KeysFromMemory: 1`, as if the table was not used.
    #[test]
    fn the_first_line_says_what_init_loaded_and_where_the_key_was_read() {
        let counters = Counters::default();
        counters.add(Counter::TableReads);
        counters.add(Counter::InitKeysFromTable);
        let first = counters.take_emf("N", "f", Outcome::Allow, Some(Tier::Memory), 0);
        let read = |emf: &Value, name: &str| emf[name].as_u64();
        assert_eq!(
            [
                "KeysFromMemory",
                "KeysFromTable",
                "InitKeysFromTable",
                "InitKeysFromJwks",
                "TableReads"
            ]
            .map(|name| read(&first, name)),
            [Some(1), Some(0), Some(1), Some(0), Some(1)]
        );
        let second = counters.take_emf("N", "f", Outcome::Allow, Some(Tier::Memory), 0);
        assert_eq!(
            read(&second, "InitKeysFromTable"),
            Some(0),
            "init is reported once"
        );
    }

    #[test]
    fn emf_document_counts_and_resets() {
        let counters = Counters::default();
        counters.add(Counter::JwksFetches);
        counters.add(Counter::TableErrors);
        counters.add(Counter::TableErrors);
        counters.add(Counter::RevokedTokens);
        counters.add(Counter::RevocationLookups);
        counters.add(Counter::RevocationLookups);
        counters.add(Counter::RevocationErrors);
        counters.add(Counter::RevocationUnchecked);
        let emf = counters.take_emf(
            "JwtAuthorizer",
            "authorizer",
            Outcome::Allow,
            Some(Tier::Jwks),
            1_700_000_000_000,
        );
        assert_eq!(
            emf["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "JwtAuthorizer"
        );
        assert_eq!(
            emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName"]])
        );
        assert_eq!(
            emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .map(Vec::len),
            Some(25)
        );
        assert_eq!(
            (
                emf["Allow"].as_u64(),
                emf["Deny"].as_u64(),
                emf["KeysFromJwks"].as_u64()
            ),
            (Some(1), Some(0), Some(1))
        );
        assert_eq!(
            (emf["JwksFetches"].as_u64(), emf["TableErrors"].as_u64()),
            (Some(1), Some(2))
        );
        assert_eq!(
            (
                emf["RevokedTokens"].as_u64(),
                emf["RevocationLookups"].as_u64(),
                emf["RevocationErrors"].as_u64(),
                emf["RevocationUnchecked"].as_u64()
            ),
            (Some(1), Some(2), Some(1), Some(1))
        );
        let next = counters.take_emf(
            "JwtAuthorizer",
            "authorizer",
            Outcome::Unauthorized,
            None,
            0,
        );
        assert_eq!(
            (
                next["JwksFetches"].as_u64(),
                next["TableErrors"].as_u64(),
                next["KeysFromMemory"].as_u64(),
                next["RevocationLookups"].as_u64()
            ),
            (Some(0), Some(0), Some(0), Some(0))
        );
    }
}
