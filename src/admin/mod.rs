//! `authorizer-admin`, the operator CLI (SPEC.md "Revocation"), with the authorizer's
//! environment: `revoke` writes revocation items, `keys` lists the key-tier items,
//! `explain` runs one decision step by step, `issuers` manages the tenant registry. [`args`] parses the command line (pure);
//! each command has its own file; [`main`] is the whole binary. Every failure is one
//! line on stderr and a non-zero exit: 2 for bad arguments or configuration, 1 for a
//! table that can't be reached or a command that failed.

pub mod args;
pub mod explain;
mod format;
pub mod issuers;
pub mod keys;
pub mod revoke;

use std::io::Write;
use std::process::ExitCode;

use thiserror::Error;

pub use args::{
    Command, ExplainInput, IssuersArgs, RegisterArgs, RevokeArgs, Target, USAGE, UsageError, parse,
};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::{ConfigError, UpstreamError};
use crate::keys::KeyTable;

/// Why a command did not run to the end; `Display` is the one line printed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The command line is wrong.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The environment is not a valid authorizer configuration.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// An argument that parses but can't be used (an unknown issuer, a date past).
    #[error("{0}")]
    Invalid(String),
    /// The keys table could not be read or written.
    #[error("keys table {table}: {error}")]
    Table {
        /// The table name.
        table: String,
        /// What failed.
        error: UpstreamError,
    },
    /// The system clock reads before 1970.
    #[error("the system clock is unusable")]
    Clock,
    /// Standard output could not be written.
    #[error("cannot write the output: {0}")]
    Output(String),
}

impl AdminError {
    /// The exit status: 2 for the invocation (arguments, configuration), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Config(_) | Self::Invalid(_) => 2,
            Self::Table { .. } | Self::Clock | Self::Output(_) => 1,
        }
    }

    pub(crate) fn output(error: std::io::Error) -> Self {
        Self::Output(error.to_string())
    }
}

/// The whole `authorizer-admin` binary: parses `args` (without the program name), reads
/// the configuration from the environment, runs the command; prints usage, results on
/// stdout, or one error line on stderr.
pub async fn main(args: &[String]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match run(args, &mut stdout).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message = error.to_string();
            let words: Vec<&str> = message.split_whitespace().collect();
            let _ = writeln!(std::io::stderr(), "authorizer-admin: {}", words.join(" "));
            ExitCode::from(error.exit_code())
        }
    }
}

async fn run(args: &[String], out: &mut dyn Write) -> Result<(), AdminError> {
    let command = parse(args)?;
    if command == Command::Help {
        return out.write_all(USAGE.as_bytes()).map_err(AdminError::output);
    }
    let config = Config::from_env()?;
    if let Command::Explain(input) = &command {
        return explain::run(&config, input, out).await;
    }
    let name = config.keys.table_name.clone().ok_or_else(|| {
        ConfigError::new(
            "KEYS_TABLE_NAME",
            "required: authorizer-admin reads and writes the keys table",
        )
    })?;
    let table = KeyTable::from_env(&name).await;
    let now = SystemClock::new().wall().ok_or(AdminError::Clock)?;
    match &command {
        Command::Revoke(args) => revoke::run(args, &config, &table, now, out).await,
        Command::Keys => keys::run(&config, &table, now, out).await,
        Command::Issuers(args) => issuers::run(args, &config, &table, now, out).await,
        Command::Help | Command::Explain(_) => Ok(()),
    }
}
