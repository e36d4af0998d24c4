//! The command line: every command and option, with the help text `--help` prints.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The operator's tool for a Leadline stack (deployed, or the local one).
///
/// Tenants, usage and the operator key go through the tenant API with the operator key (the same
/// rules and audit trail as any API call); dead-letter queues and the retention run use the
/// operator's AWS credentials (the standard SDK chain: environment, profile, SSO, instance role).
///
/// Exit codes: 0 done; 1 failed (network, AWS, server); 2 bad usage or input; 3 not found;
/// 4 refused (a conflict, a credential not allowed, a confirmation not given).
#[derive(Debug, Parser)]
#[command(name = "leadline-admin", version, propagate_version = true)]
pub struct Cli {
    /// Print JSON (one document) instead of text, for scripts.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the stack is.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The local stack whose state directory this is (`.local`): its API URL and operator key
    /// come from `demo.json`, and `retention run` calls its scheduler.
    #[arg(long, global = true, value_name = "STATE_DIR")]
    pub local: Option<PathBuf>,

    /// The tenant API's base URL (the stack's `ApiUrl` output).
    #[arg(long, global = true, env = "LEADLINE_API_URL", value_name = "URL")]
    pub api_url: Option<String>,

    /// The CloudFormation stack name: the queues are `<stack>-<queue>[-dlq][.fifo]`.
    #[arg(long, global = true, env = "LEADLINE_STACK", default_value = "leadline")]
    pub stack: String,

    /// An AWS endpoint instead of AWS's own (the local stack's moto: `http://127.0.0.1:<port>`).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// The retention function's name or ARN (the stack's `RetentionFunction` resource).
    #[arg(long, global = true, env = "LEADLINE_RETENTION_FUNCTION", value_name = "NAME")]
    pub retention_function: Option<String>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tenants: list, show, create, set the plan, close, reopen (the operator key, from
    /// `LEADLINE_OPERATOR_KEY` or `--local`).
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// A tenant's usage against its plan.
    Usage {
        /// The tenant id.
        tenant: String,
    },
    /// Dead-letter queues: count, peek (personal data redacted), redrive, purge.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// The retention run (normally hourly).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// The operator key.
    #[command(subcommand, name = "operator-key")]
    OperatorKey(OperatorKeyCommand),
}

/// `tenants …`.
#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Every tenant, closed ones included, oldest first.
    List,
    /// One tenant: status, plan, settings, retention.
    Show {
        /// The tenant id.
        tenant: String,
    },
    /// Creates a tenant and prints its first admin API key (shown this once).
    Create {
        /// The organisation's name (1 to 200 characters; the tenant id when absent).
        #[arg(long)]
        name: Option<String>,
    },
    /// Changes a tenant's plan limits (the ones not given stay as they are).
    SetPlan {
        /// The tenant id.
        tenant: String,
        /// API requests per minute.
        #[arg(long)]
        requests_per_minute: Option<u32>,
        /// Contacts stored at most.
        #[arg(long)]
        contacts: Option<u64>,
        /// Users (not deleted) at most.
        #[arg(long)]
        users: Option<u32>,
        /// Outbound messages per calendar month.
        #[arg(long)]
        messages_per_month: Option<u64>,
    },
    /// Closes a tenant: its credentials stop working, its data is purged after the grace period
    /// unless it is reopened.
    Close {
        /// The tenant id.
        tenant: String,
        /// Do not ask (otherwise the tenant id must be typed to confirm).
        #[arg(long)]
        yes: bool,
    },
    /// Reopens a closed tenant within its grace period.
    Reopen {
        /// The tenant id.
        tenant: String,
    },
}

/// A queue that has a dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueName {
    /// Webhook events to ingest (FIFO).
    Inbound,
    /// Messages to send (FIFO).
    Outbound,
    /// AI work.
    Suggest,
    /// Contact imports (FIFO).
    Import,
}

impl QueueName {
    /// Every queue, in this order.
    pub const ALL: [Self; 4] = [Self::Inbound, Self::Outbound, Self::Suggest, Self::Import];

    /// The name in `template.yaml` and the local stack.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
            Self::Suggest => "suggest",
            Self::Import => "import",
        }
    }

    /// FIFO queues need a message group and a deduplication id.
    #[must_use]
    pub fn is_fifo(self) -> bool {
        self != Self::Suggest
    }
}

/// `dlq …`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Messages waiting in the dead-letter queues (all of them, or one).
    Count {
        /// One queue.
        queue: Option<QueueName>,
    },
    /// Shows messages without taking them: ids, times, delivery counts and the bodies with
    /// phone numbers, names, emails and message texts redacted.
    Peek {
        /// The queue.
        queue: QueueName,
        /// At most this many messages.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
        max: u16,
    },
    /// Moves the messages back to the source queue, to be processed again (fix the cause first).
    Redrive {
        /// The queue.
        queue: QueueName,
        /// At most this many messages (all when absent).
        #[arg(long)]
        max: Option<u32>,
    },
    /// Deletes every message of the dead-letter queue, for good.
    Purge {
        /// The queue.
        queue: QueueName,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// `retention …`.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Runs the retention function now and prints what it did.
    Run,
}

/// `operator-key …`.
#[derive(Debug, Subcommand)]
pub enum OperatorKeyCommand {
    /// Makes a new operator key: prints it (once) and the SHA-256 to deploy as the template's
    /// `OperatorKeySha256` parameter. The old key works until that deploy.
    Rotate {
        /// Also write the hash into this samconfig.toml's `parameter_overrides`.
        #[arg(long, value_name = "PATH")]
        samconfig: Option<PathBuf>,
    },
}
