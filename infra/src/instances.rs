//! How many instances (processes) of each function the local stack runs, as Lambda runs one
//! execution environment per concurrent invocation: `LEADLINE_INSTANCES`, a comma-separated list
//! of `function=count` (e.g. `api=8,send=2`) over the defaults — 4 for `api`, `webhook` and
//! `inbound` (the functions that take parallel traffic), 1 for the others:
//!
//! - `send`: 1 by default, as before the stack ran instances: one person's messages form one FIFO
//!   group, which runs one batch at a time however many instances there are, so the tests' bursts
//!   gain nothing, and one instance keeps a number's whole throughput. More are allowed and stay
//!   correct (`SEND_INSTANCES` follows the count, as the template sets it to the queue's
//!   `MaximumConcurrency`, so the instances' shares add up to the limit; the pair limit holds
//!   because a person's group is never in two invocations at once).
//! - `suggest`: calls an AI provider per record; parallel calls only make the sandbox busier.
//! - `retention`: always 1 — one scheduled run at a time, as the schedule intends.

use std::collections::BTreeMap;

/// The defaults: the functions that serve parallel traffic run 4 instances.
pub const DEFAULTS: &[(&str, usize)] = &[("api", 4), ("webhook", 4), ("inbound", 4)];
/// At most this many instances of one function (each is a process).
pub const MAX_INSTANCES: usize = 16;
/// Functions that must run exactly one instance.
const SINGLE: &[&str] = &["retention"];

/// Errors of [`Instances::parse`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InstancesError {
    /// An entry is not `function=count` with a whole number.
    #[error("LEADLINE_INSTANCES: {0:?} is not function=count")]
    Malformed(String),
    /// No such function.
    #[error("LEADLINE_INSTANCES: no function named {0:?}")]
    UnknownFunction(String),
    /// Zero, or more than [`MAX_INSTANCES`].
    #[error("LEADLINE_INSTANCES: {0} must run 1 to {MAX_INSTANCES} instances")]
    OutOfRange(String),
    /// A function that must run one instance was given more.
    #[error("LEADLINE_INSTANCES: {0} runs one invocation at a time; it takes no other count")]
    Single(String),
}

/// Instances per function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instances(BTreeMap<String, usize>);

impl Instances {
    /// The counts for `functions`: the defaults, overridden by `setting` (the value of
    /// `LEADLINE_INSTANCES`, if set).
    ///
    /// # Errors
    /// [`InstancesError`] for an entry that is malformed, names no function, is out of range, or
    /// gives `retention` more than one.
    pub fn parse(setting: Option<&str>, functions: &[&str]) -> Result<Self, InstancesError> {
        let mut counts: BTreeMap<String, usize> =
            functions.iter().map(|name| ((*name).to_owned(), 1)).collect();
        for (name, count) in DEFAULTS {
            if let Some(slot) = counts.get_mut(*name) {
                *slot = *count;
            }
        }
        for entry in setting.unwrap_or_default().split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let malformed = || InstancesError::Malformed(entry.to_owned());
            let (name, count) = entry.split_once('=').ok_or_else(malformed)?;
            let (name, count) = (name.trim(), count.trim().parse::<usize>().map_err(|_| malformed())?);
            let slot =
                counts.get_mut(name).ok_or_else(|| InstancesError::UnknownFunction(name.to_owned()))?;
            if !(1..=MAX_INSTANCES).contains(&count) {
                return Err(InstancesError::OutOfRange(name.to_owned()));
            }
            if SINGLE.contains(&name) && count != 1 {
                return Err(InstancesError::Single(name.to_owned()));
            }
            *slot = count;
        }
        Ok(Self(counts))
    }

    /// The instances of `function` (1 for a function it does not know).
    #[must_use]
    pub fn of(&self, function: &str) -> usize {
        self.0.get(function).copied().unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUNCTIONS: &[&str] = &["webhook", "api", "inbound", "send", "suggest", "retention"];

    #[test]
    fn defaults_run_four_of_the_parallel_functions_and_one_of_the_others() {
        let instances = Instances::parse(None, FUNCTIONS).expect("defaults");
        for (name, count) in
            [("api", 4), ("webhook", 4), ("inbound", 4), ("send", 1), ("suggest", 1), ("retention", 1)]
        {
            assert_eq!(instances.of(name), count, "{name}");
        }
    }

    #[test]
    fn the_setting_overrides_the_defaults_per_function() {
        let instances = Instances::parse(Some(" api=1, send=3 ,"), FUNCTIONS).expect("valid");
        assert_eq!((instances.of("api"), instances.of("send"), instances.of("webhook")), (1, 3, 4));
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        let cases = [
            ("api", InstancesError::Malformed("api".into())),
            ("api=four", InstancesError::Malformed("api=four".into())),
            ("apy=2", InstancesError::UnknownFunction("apy".into())),
            ("api=0", InstancesError::OutOfRange("api".into())),
            ("api=17", InstancesError::OutOfRange("api".into())),
            ("retention=2", InstancesError::Single("retention".into())),
        ];
        for (setting, error) in cases {
            assert_eq!(Instances::parse(Some(setting), FUNCTIONS), Err(error), "{setting}");
        }
    }
}
