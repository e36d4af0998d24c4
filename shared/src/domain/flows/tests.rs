//! Tests of the flows domain.
