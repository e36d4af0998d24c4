pub mod conversation_state;
