//! The outcome of a command, as an exit code.

/// Why a command did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad usage or input (exit 2), including a 400 from the API.
    #[error("{0}")]
    Usage(String),
    /// What was named does not exist (exit 3).
    #[error("not found: {0}")]
    NotFound(String),
    /// Refused: a conflict, a credential that may not do it, a confirmation not given (exit 4).
    #[error("refused: {0}")]
    Refused(String),
    /// Anything else: network, AWS, the server (exit 1).
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl AdminError {
    /// The process exit code (documented in `--help` and the runbook).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Unknown(_) => 1,
            Self::Usage(_) => 2,
            Self::NotFound(_) => 3,
            Self::Refused(_) => 4,
        }
    }

    /// What the kind is called in `--json` error output.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unknown(_) => "failed",
            Self::Usage(_) => "usage",
            Self::NotFound(_) => "not_found",
            Self::Refused(_) => "refused",
        }
    }
}
