//! A flow's definition: the JSON an admin saves (`POST /v1/flows`), parsed strictly
//! (`deny_unknown_fields`, so a misspelt key is refused rather than ignored) and described by
//! [`flow_schema`] for the OpenAPI document.
//!
//! Steps are a map from step id to step; every reference between steps is a step id, checked by
//! [`super::validate`] at save time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FlowProblem;
use crate::domain::ids::QueueId;
use crate::domain::inbox::LeadStage;

/// A step's id: the key of [`FlowDefinition::steps`] (1 to 64 of `A-Z a-z 0-9 _ -`).
pub type StepId = String;

/// A tenant's chatbot flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowDefinition {
    /// A name for the admins (1 to 100 characters).
    pub name: String,
    /// What starts it (see [`super::select`] for which flow wins when several match).
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    /// The first step.
    pub start: StepId,
    /// The steps by id.
    pub steps: BTreeMap<StepId, Step>,
}

impl FlowDefinition {
    /// Whether one of its conditions reads the lead's stage: the runner reads the contact's
    /// leads for a turn only then (a query per message of every flow would be paid for nothing).
    #[must_use]
    pub fn branches_on_lead_stage(&self) -> bool {
        self.steps.values().any(|step| {
            matches!(step, Step::Condition(ConditionStep { when: Condition::LeadStage { .. }, .. }))
        })
    }
}

/// What starts a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// The first message of a new conversation.
    NewConversation,
    /// A customer message that reopens a resolved conversation.
    Reopened,
    /// A customer message that is exactly one of the keywords (trimmed, case- and
    /// accent-insensitive).
    Keyword {
        /// 1 to 20 keywords of 1 to 32 characters.
        keywords: Vec<String>,
    },
    /// A new or reopened conversation while the tenant is closed (business hours, holidays).
    OutsideHours,
}

/// One step of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    /// Sends a message and goes on at once.
    Message(MessageStep),
    /// Sends reply buttons or a list and waits for a choice.
    Menu(MenuStep),
    /// Asks a question, validates and stores the answer.
    Ask(AskStep),
    /// Branches on the contact, the lead or the clock.
    Condition(ConditionStep),
    /// Adds tags, sets attributes or the lead's stage, and goes on.
    Set(SetStep),
    /// Waits for the customer's next message, or a timeout.
    Wait(WaitStep),
    /// Puts the conversation in a queue: the contact center's assignment takes over.
    Route(RouteStep),
    /// Hands the conversation to a human (in a queue or none).
    Handoff(HandoffStep),
    /// Ends the flow.
    End(EndStep),
}

/// Sends a text, a media or (when the 24 h window is closed) a template, then goes on to `next`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageStep {
    /// A text (at most 4096 characters). At most one of `text` and `media`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A media message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
    /// The template sent instead when the customer service window is closed (the only kind of
    /// message WhatsApp delivers then); without one the step sends nothing then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateRef>,
    /// The step after; none ends the flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<StepId>,
}

/// What kind of media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A picture.
    Image,
    /// A video.
    Video,
    /// A file.
    Document,
    /// A sound.
    Audio,
}

impl MediaKind {
    /// The Cloud API's name of the message type.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Document => "document",
            Self::Audio => "audio",
        }
    }
}

/// A media by uploaded id or by link (exactly one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// Image, video, document or audio.
    pub kind: MediaKind,
    /// A media id from the Cloud API's upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// An `https://` link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// A caption (at most 1024 characters; not for audio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// A file name (documents only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// An approved template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "FlowTemplate")]
pub struct TemplateRef {
    /// Its name.
    pub name: String,
    /// Its language code (`en_US`, `pt_BR`).
    pub language: String,
    /// The body's text parameters, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<String>,
}

/// How a menu is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MenuStyle {
    /// Reply buttons: at most 3, titles at most 20 characters.
    Buttons,
    /// A list: at most 10 rows, titles at most 24 characters.
    List,
}

/// Offers options and waits for the customer's choice: a button or list reply, or a text matched
/// to an option by its number (`1`), title or a keyword (trimmed, case- and accent-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MenuStep {
    /// The body (at most 1024 characters).
    pub text: String,
    /// Buttons or list.
    pub style: MenuStyle,
    /// The options, in order (numbered from 1).
    pub options: Vec<MenuOption>,
    /// A text header (at most 60 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// A footer (at most 60 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// The list's button label (at most 20 characters; lists only; default `Options`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<String>,
    /// The list's section title (at most 24 characters; lists only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// What to do with an answer that matches no option; by default the menu is asked again
    /// twice ([`DEFAULT_RETRY_TEXT`]) and then the conversation goes to a human.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
}

/// One option of a menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MenuOption {
    /// The reply id WhatsApp sends back (1 to 256 characters, unique in the menu).
    pub id: String,
    /// The title shown (buttons: at most 20 characters; list rows: at most 24).
    pub title: String,
    /// A row description (lists only, at most 72 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Other words a typed answer may be (whole answer, case- and accent-insensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// The step after this choice.
    pub next: StepId,
}

/// The re-ask policy of a menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Sent before the menu again ("Sorry, please pick one of the options.").
    pub text: String,
    /// How many times the menu is asked again (0 to 10).
    pub max: u32,
    /// The step after the last unmatched answer.
    pub then: StepId,
}

/// The re-ask text of a menu without [`Retry`].
pub const DEFAULT_RETRY_TEXT: &str = "Sorry, I didn't understand. Please pick one of the options.";
/// How many times a menu without [`Retry`] is asked again.
pub const DEFAULT_RETRY_MAX: u32 = 2;

/// Asks a question and stores the valid answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AskStep {
    /// The question (at most 4096 characters).
    pub text: String,
    /// What a valid answer is.
    pub validate: Validation,
    /// Where the valid answer goes (it is also kept in the session's answers under the step id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<Store>,
    /// Sent before asking again after an invalid answer (default [`DEFAULT_INVALID_TEXT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_text: Option<String>,
    /// Answers taken at most, 1 to 10 (default 3): after that many invalid ones, `on_fail`.
    #[serde(default = "default_max_tries")]
    pub max_tries: u32,
    /// The step after a valid answer.
    pub next: StepId,
    /// The step after `max_tries` invalid answers; none hands the conversation to a human.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_fail: Option<StepId>,
}

/// The re-ask text of an ask step without `invalid_text`.
pub const DEFAULT_INVALID_TEXT: &str = "Sorry, that is not a valid answer. Please try again.";

const fn default_max_tries() -> u32 {
    3
}

/// What a valid answer is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Validation {
    /// Any non-empty text, at most `max_length` characters (default and limit 1024).
    Text {
        /// The longest answer taken.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<u32>,
    },
    /// An email address (stored lowercased).
    Email,
    /// A phone number in international form (stored as E.164 digits with `+`).
    Phone,
    /// A number (`,` or `.` as the decimal mark), within `min`..=`max` when given.
    Number {
        /// The smallest number taken.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// The largest number taken.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// A date, `YYYY-MM-DD` or `DD/MM/YYYY` (stored as `YYYY-MM-DD`).
    Date,
    /// One of the options (matched like menu keywords; stored as written in `options`).
    Options {
        /// 1 to 20 options.
        options: Vec<String>,
    },
}

/// Where an answer is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Store {
    /// A field of the contact (`{"contact": "email"}`).
    Contact(ContactField),
    /// A custom attribute of the contact (`{"attribute": "company"}`).
    Attribute(String),
    /// A field of the contact's lead (`{"lead": "stage"}`): written on the contact's most
    /// recently received open lead (stage neither `won` nor `lost`); when it has none, a lead is
    /// created for it (stage `new`, origin form `chatbot`) and the field set on it.
    Lead(LeadField),
}

/// A contact field a flow writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactField {
    /// The name.
    Name,
    /// The email (validated as `email`).
    Email,
}

/// A lead field a flow writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadField {
    /// The stage (an ask step validates it as `options` naming stages).
    Stage,
    /// The origin's campaign.
    Campaign,
    /// The origin's form.
    Form,
    /// The origin's ad.
    Ad,
}

/// Branches to `then` when the condition holds, else to `else`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionStep {
    /// The condition.
    pub when: Condition,
    /// The step when it holds.
    pub then: StepId,
    /// The step when it does not.
    #[serde(rename = "else")]
    pub otherwise: StepId,
}

/// A condition on the contact, the lead or the clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The contact's attribute `name` is `value` (case-insensitive).
    AttributeEquals {
        /// The attribute.
        name: String,
        /// The value.
        value: String,
    },
    /// The contact has the attribute `name`.
    AttributeExists {
        /// The attribute.
        name: String,
    },
    /// The contact's field is known (skip asking for an email the contact already gave).
    ContactFieldExists {
        /// The field.
        field: ContactField,
    },
    /// The contact has the tag.
    Tag {
        /// The tag (case-insensitive).
        tag: String,
    },
    /// The tenant is open now (business hours in its time zone, not a holiday).
    BusinessHoursOpen,
    /// The contact's lead is in one of the stages.
    LeadStage {
        /// The stages.
        stages: Vec<LeadStage>,
    },
}

/// Adds tags and sets attributes or the lead's stage, then goes on to `next`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStep {
    /// Tags added to the contact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Attributes set on the contact.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// The lead's new stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_stage: Option<LeadStage>,
    /// The step after; none ends the flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<StepId>,
}

/// Waits for the customer's next message (whatever it says) or `timeout_minutes`: the timeout
/// fires by itself (a timer, within about a minute of its time) even if the customer never
/// writes again, and at most once; a message that comes first cancels it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    /// Minutes to wait, 1 to 10080 (a week).
    pub timeout_minutes: u32,
    /// The step after a reply.
    pub next: StepId,
    /// The step after the timeout.
    pub on_timeout: StepId,
}

/// Routes the conversation to a queue; the flow ends there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteStep {
    /// The queue (one of the tenant's).
    pub queue: QueueId,
    /// A text sent before routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Hands the conversation to a human, in a queue or none; the flow ends there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffStep {
    /// A text sent before handing off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The queue, when one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueId>,
}

/// Ends the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndStep {
    /// A last text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// The JSON Schema of [`FlowDefinition`], for the OpenAPI document.
#[must_use]
pub fn flow_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(FlowDefinition)).unwrap_or(Value::Null)
}

/// Parses a definition, naming by path what does not fit the format: each step is parsed on its
/// own so that a problem is located at `/steps/<id>` rather than as a line and column.
///
/// # Errors
/// The problems found (every step's, not only the first).
pub fn parse_definition(value: &Value) -> Result<FlowDefinition, Vec<FlowProblem>> {
    match serde_json::from_value::<FlowDefinition>(value.clone()) {
        Ok(definition) => Ok(definition),
        Err(whole) => {
            let mut problems = Vec::new();
            if let Some(steps) = value.get("steps").and_then(Value::as_object) {
                for (id, step) in steps {
                    if let Err(error) = serde_json::from_value::<Step>(step.clone()) {
                        problems.push(FlowProblem::new(
                            format!("/steps/{}", super::validate::escape_pointer(id)),
                            error.to_string(),
                        ));
                    }
                }
            }
            if let Some(triggers) = value.get("triggers").and_then(Value::as_array) {
                for (i, trigger) in triggers.iter().enumerate() {
                    if let Err(error) = serde_json::from_value::<Trigger>(trigger.clone()) {
                        problems.push(FlowProblem::new(format!("/triggers/{i}"), error.to_string()));
                    }
                }
            }
            if problems.is_empty() {
                problems.push(FlowProblem::new(String::new(), whole.to_string()));
            }
            Err(problems)
        }
    }
}
