//! Lambda plumbing shared by the functions: HTTP problem responses and the SQS batch runner.

pub mod batch;
pub mod http;
