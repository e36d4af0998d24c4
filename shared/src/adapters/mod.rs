//! Adapters: the ports of [`crate::domain::ports`] implemented on AWS. Each adapter owns the
//! mapping between its service's records and the domain types.

pub mod ai;
pub mod documents;
pub mod dynamo;
pub mod graph;
pub mod http;
pub mod kms;
pub mod live;
pub mod sqs;
