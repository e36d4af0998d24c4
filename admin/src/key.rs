//! The operator key. The stack keeps only its SHA-256 (`OperatorKeySha256` in `template.yaml`,
//! the api function's `OPERATOR_KEY_SHA256`), so rotating is: make a key, deploy its hash.
//! Nothing here can read the current key, and nothing stores the new one but the operator.

use anyhow::Context as _;
use serde_json::json;

use crate::cli::OperatorKeyCommand;
use crate::error::AdminError;
use crate::output::Output;

/// The parameter the hash is deployed as.
const PARAMETER: &str = "OperatorKeySha256";

/// A new operator key: `llo_` and 64 hex digits (256 random bits).
fn new_key() -> Result<String, AdminError> {
    let bytes = shared::kernel::random::bytes::<32>().context("the system's random source")?;
    Ok(format!("llo_{}", shared::kernel::hex::encode(&bytes)))
}

/// `samconfig.toml` with `OperatorKeySha256=<hash>` in its `parameter_overrides` (replaced
/// where present, appended to the first `parameter_overrides` otherwise).
fn with_hash(samconfig: &str, hash: &str) -> Result<String, AdminError> {
    let mut found = false;
    let lines: Vec<String> = samconfig
        .lines()
        .map(|line| {
            if found || !line.trim_start().starts_with("parameter_overrides") {
                return line.to_owned();
            }
            found = true;
            match line.find(&format!("{PARAMETER}=")) {
                Some(start) => {
                    let value_start = start + PARAMETER.len() + 1;
                    let rest = &line[value_start..];
                    let end = rest.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(rest.len());
                    format!("{}{hash}{}", &line[..value_start], &rest[end..])
                }
                None => match line.rfind('"') {
                    Some(quote) => format!("{} {PARAMETER}={hash}{}", &line[..quote], &line[quote..]),
                    None => line.to_owned(),
                },
            }
        })
        .collect();
    if !found {
        return Err(AdminError::Usage("the samconfig has no parameter_overrides line".to_owned()));
    }
    Ok(lines.join("\n") + "\n")
}

/// `operator-key …`.
///
/// # Errors
/// [`AdminError::Usage`] for a samconfig without `parameter_overrides`; [`AdminError::Unknown`]
/// when it cannot be read or written.
pub fn run(command: OperatorKeyCommand, out: &Output) -> Result<(), AdminError> {
    let OperatorKeyCommand::Rotate { samconfig } = command;
    let key = new_key()?;
    let hash = shared::kernel::digest::hex_sha256(&key);
    if let Some(path) = &samconfig {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        std::fs::write(path, with_hash(&text, &hash)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let written = samconfig.as_ref().map(|p| p.display().to_string());
    out.result(&json!({"operator_key": key, "sha256": hash, "samconfig": written}), || {
        let mut text = format!(
            "New operator key (shown this once; keep it in your secret store):\n{key}\n\n\
             Deploy its hash; the old key works until then:\n  sam deploy --parameter-overrides {PARAMETER}={hash}"
        );
        if let Some(path) = &written {
            text.push_str(&format!("\n({PARAMETER} written to {path}: a plain `sam deploy` applies it.)"));
        }
        text
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_replaces_the_old_one_in_parameter_overrides() {
        let old = format!(
            "[default.deploy.parameters]\nparameter_overrides = \"AlarmEmail=a@b.c {PARAMETER}={} X=1\"\n",
            "ab".repeat(32)
        );
        let new = with_hash(&old, &"cd".repeat(32)).unwrap();
        assert!(new.contains(&format!("{PARAMETER}={} X=1\"", "cd".repeat(32))), "{new}");
        assert!(!new.contains(&"ab".repeat(32)));
    }

    #[test]
    fn the_hash_is_appended_when_absent_and_a_key_is_fresh_each_time() {
        let new = with_hash("parameter_overrides = \"AlarmEmail=a@b.c\"\n", "ef").unwrap();
        assert_eq!(new, format!("parameter_overrides = \"AlarmEmail=a@b.c {PARAMETER}=ef\"\n"));
        assert_ne!(new_key().unwrap(), new_key().unwrap());
        assert_eq!(new_key().unwrap().len(), 68);
    }
}
