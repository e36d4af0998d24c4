//! The conversation state machine's contract on DynamoDB (moto): the same suites as the fake's,
//! so the two stores cannot drift apart.

use shared::testing::contract::conversation_state;

use crate::support::{inbox, table};

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn several_claims_of_one_conversation_have_one_winner() {
    conversation_state::several_claims_of_one_conversation_have_one_winner(inbox(&table().await).await).await;
}

#[tokio::test]
async fn an_illegal_transition_is_refused_and_changes_nothing() {
    conversation_state::an_illegal_transition_is_refused_and_changes_nothing(inbox(&table().await).await)
        .await;
}
