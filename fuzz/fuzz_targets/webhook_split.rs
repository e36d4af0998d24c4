//! Any bytes through the webhook's fast path (signature check, split) and every resulting event
//! through the inbound function's typed model: nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::domain::events::{Envelope, Event};
use shared::domain::whatsapp::{InboundMessage, LeadgenChange, StatusUpdate, UserPreference};

fuzz_target!(|data: &[u8]| {
    let header = webhook::signature::sign(b"fuzz-secret", data);
    let _ = webhook::signature::verify(b"fuzz-secret", data, Some(&header));
    let _ = webhook::signature::verify(b"fuzz-secret", data, std::str::from_utf8(data).ok());
    let Ok(split) = webhook::split::split(data) else { return };
    for message in split.messages {
        let envelope: Envelope = serde_json::from_str(&message.body).expect("the webhook writes the contract");
        let _ = match envelope.event {
            Event::Message { message, .. } => serde_json::from_str::<InboundMessage>(message.get()).map(drop),
            Event::Status { status, .. } => serde_json::from_str::<StatusUpdate>(status.get()).map(drop),
            Event::UserPreference { preference, .. } => serde_json::from_str::<UserPreference>(preference.get()).map(drop),
            Event::Lead { leadgen, .. } => serde_json::from_str::<LeadgenChange>(leadgen.get()).map(drop),
            Event::MessagingError { .. } | Event::AccountUpdate { .. } => Ok(()),
        };
    }
});
