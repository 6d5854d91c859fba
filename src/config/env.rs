//! The one place that reads configuration from the environment: a lookup (the process
//! environment, or a map in tests) seen through typed getters. Empty values read as unset
//! (SAM passes empty strings for blank parameters); every error names its variable.

use crate::error::ConfigError;

/// The environment seen through a lookup function; empty values read as unset.
pub(crate) struct Env<'a>(pub(crate) &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn number(
        &self,
        name: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError::new(
                name,
                format!(
                    "expected a whole number from {} to {}, got {raw:?}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    pub(crate) fn choice<T: Copy>(
        &self,
        name: &str,
        default: T,
        options: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        options
            .iter()
            .find(|(label, _)| label.eq_ignore_ascii_case(&raw))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let labels: Vec<&str> = options.iter().map(|(l, _)| *l).collect();
                ConfigError::new(
                    name,
                    format!("expected one of {}, got {raw:?}", labels.join(", ")),
                )
            })
    }
}

/// Splits a comma list, trimming entries and dropping empty ones.
pub(crate) fn comma_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
