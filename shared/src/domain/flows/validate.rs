//! Save-time checks of a definition: every problem at once, each named by its JSON pointer.
//!
//! The limits are WhatsApp Cloud API's (reference `whatsapp-cloud-api.md`): reply buttons at
//! most 3 with unique titles of at most 20 characters and ids of at most 256; lists at most 10
//! rows with titles of at most 24, descriptions of 72, a button label of 20 and a section title
//! of 24; an interactive body at most 1024 characters, a header and footer 60, a text message
//! 4096, a media caption 1024.

use std::collections::{BTreeMap, BTreeSet};

use super::answer::{normalize, MAX_TEXT_ANSWER};
use super::definition::{
    AskStep, Condition, ContactField, FlowDefinition, LeadField, MediaKind, MenuStep, MenuStyle, MessageStep,
    Step, StepId, Store, Trigger, Validation,
};
use super::FlowProblem;
use crate::domain::ids::QueueId;
use crate::domain::inbox::LeadStage;

/// Steps a flow has at most.
pub const MAX_STEPS: usize = 100;
/// Reply buttons at most.
pub const MAX_BUTTONS: usize = 3;
/// A reply button's title, in characters.
pub const MAX_BUTTON_TITLE: usize = 20;
/// List rows at most.
pub const MAX_LIST_ROWS: usize = 10;
/// A list row's title, in characters.
pub const MAX_ROW_TITLE: usize = 24;
/// A list row's description, in characters.
pub const MAX_ROW_DESCRIPTION: usize = 72;
/// A list's button label, in characters.
pub const MAX_LIST_BUTTON: usize = 20;
/// A list section's title, in characters.
pub const MAX_SECTION_TITLE: usize = 24;
/// A reply id, in characters.
pub const MAX_REPLY_ID: usize = 256;
/// An interactive message's body, in characters.
pub const MAX_INTERACTIVE_BODY: usize = 1024;
/// An interactive message's header or footer, in characters.
pub const MAX_HEADER_FOOTER: usize = 60;
/// A text message's body, in characters.
pub const MAX_TEXT_BODY: usize = 4096;
/// A media caption, in characters.
pub const MAX_CAPTION: usize = 1024;
/// The longest wait, in minutes (a week).
pub const MAX_WAIT_MINUTES: u32 = 7 * 24 * 60;
/// The most re-asks of a menu, and the most answers a question takes.
pub const MAX_TRIES: u32 = 10;

/// What validation knows of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationContext {
    /// The tenant's queue ids; `None` skips the queue check (a dry run of a draft).
    pub queues: Option<BTreeSet<QueueId>>,
}

/// Checks a definition: references between steps, steps no path reaches, loops that never wait
/// for the customer nor leave, WhatsApp's limits, answer validations and where they are stored,
/// queues the tenant does not have.
///
/// # Errors
/// Every problem found, in path order.
pub fn validate(def: &FlowDefinition, ctx: &ValidationContext) -> Result<(), Vec<FlowProblem>> {
    let mut check = Check { def, ctx, problems: Vec::new() };
    check.definition();
    let mut problems = check.problems;
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    Err(problems)
}

/// `segment` escaped for a JSON pointer (RFC 6901: `~` as `~0`, `/` as `~1`).
#[must_use]
pub(crate) fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The steps a step leads to, with the pointer (under the step) of each reference; `None` is
/// the end of the flow (a `next` left out).
pub(crate) fn targets(step: &Step) -> Vec<(String, Option<&StepId>)> {
    match step {
        Step::Message(m) => vec![("/next".into(), m.next.as_ref())],
        Step::Set(s) => vec![("/next".into(), s.next.as_ref())],
        Step::Menu(m) => {
            let mut out: Vec<_> = m
                .options
                .iter()
                .enumerate()
                .map(|(i, o)| (format!("/options/{i}/next"), Some(&o.next)))
                .collect();
            match &m.retry {
                Some(retry) => out.push(("/retry/then".into(), Some(&retry.then))),
                // Without a retry policy the menu hands off: an exit.
                None => out.push((String::new(), None)),
            }
            out
        }
        Step::Ask(a) => vec![("/next".into(), Some(&a.next)), ("/on_fail".into(), a.on_fail.as_ref())],
        Step::Condition(c) => vec![("/then".into(), Some(&c.then)), ("/else".into(), Some(&c.otherwise))],
        Step::Wait(w) => vec![("/next".into(), Some(&w.next)), ("/on_timeout".into(), Some(&w.on_timeout))],
        Step::Route(_) | Step::Handoff(_) | Step::End(_) => Vec::new(),
    }
}

/// Whether a step stops the turn to wait for the customer.
const fn waits(step: &Step) -> bool {
    matches!(step, Step::Menu(_) | Step::Ask(_) | Step::Wait(_))
}

struct Check<'a> {
    def: &'a FlowDefinition,
    ctx: &'a ValidationContext,
    problems: Vec<FlowProblem>,
}

impl Check<'_> {
    fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(FlowProblem::new(path, message));
    }

    /// A required text of 1 to `max` characters.
    fn text(&mut self, path: &str, text: &str, max: usize) {
        if text.trim().is_empty() {
            self.problem(path, "must not be empty");
        } else if text.chars().count() > max {
            self.problem(path, format!("at most {max} characters (WhatsApp's limit)"));
        }
    }

    /// An optional text of 1 to `max` characters.
    fn optional_text(&mut self, path: &str, text: Option<&String>, max: usize) {
        if let Some(text) = text {
            self.text(path, text, max);
        }
    }

    fn queue(&mut self, path: &str, queue: &QueueId) {
        if self.ctx.queues.as_ref().is_some_and(|queues| !queues.contains(queue)) {
            self.problem(path, format!("unknown queue {:?}", queue.as_str()));
        }
    }

    fn definition(&mut self) {
        let def = self.def;
        let name = def.name.chars().count();
        if def.name.trim().is_empty() || name > 100 {
            self.problem("/name", "must be 1 to 100 characters");
        }
        self.triggers();
        if def.steps.is_empty() {
            self.problem("/steps", "a flow needs at least one step");
        } else if def.steps.len() > MAX_STEPS {
            self.problem("/steps", format!("at most {MAX_STEPS} steps"));
        }
        if !def.steps.contains_key(&def.start) {
            self.problem("/start", format!("unknown step {:?}", def.start));
        }
        for (id, step) in &def.steps {
            let path = format!("/steps/{}", escape_pointer(id));
            let shaped = (1..=64).contains(&id.len())
                && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
            if !shaped {
                self.problem(path.clone(), "a step id is 1 to 64 of A-Z a-z 0-9 _ -");
            }
            for (pointer, target) in targets(step) {
                if let Some(target) = target {
                    if !def.steps.contains_key(target) {
                        self.problem(format!("{path}{pointer}"), format!("unknown step {target:?}"));
                    }
                }
            }
            self.step(&path, step);
        }
        self.unreachable();
        self.loops();
    }

    fn triggers(&mut self) {
        for (i, trigger) in self.def.triggers.iter().enumerate() {
            let Trigger::Keyword { keywords } = trigger else { continue };
            if keywords.is_empty() || keywords.len() > 20 {
                self.problem(format!("/triggers/{i}/keywords"), "1 to 20 keywords");
            }
            for (j, keyword) in keywords.iter().enumerate() {
                if normalize(keyword).is_empty() || keyword.chars().count() > 32 {
                    self.problem(format!("/triggers/{i}/keywords/{j}"), "a keyword is 1 to 32 characters");
                }
            }
        }
    }

    fn step(&mut self, path: &str, step: &Step) {
        match step {
            Step::Message(message) => self.message(path, message),
            Step::Menu(menu) => self.menu(path, menu),
            Step::Ask(ask) => self.ask(path, ask),
            Step::Condition(condition) => match &condition.when {
                Condition::AttributeEquals { name, .. } | Condition::AttributeExists { name } => {
                    self.text(&format!("{path}/when/name"), name, 64);
                }
                Condition::Tag { tag } => self.text(&format!("{path}/when/tag"), tag, 64),
                Condition::LeadStage { stages } if stages.is_empty() => {
                    self.problem(format!("{path}/when/stages"), "at least one stage");
                }
                _ => {}
            },
            Step::Set(set) => {
                if set.tags.is_empty() && set.attributes.is_empty() && set.lead_stage.is_none() {
                    self.problem(path, "a set step needs tags, attributes or lead_stage");
                }
                for (i, tag) in set.tags.iter().enumerate() {
                    self.text(&format!("{path}/tags/{i}"), tag, 64);
                }
                for (name, value) in &set.attributes {
                    let attribute = format!("{path}/attributes/{}", escape_pointer(name));
                    if name.trim().is_empty() || name.chars().count() > 64 {
                        self.problem(attribute.clone(), "an attribute name is 1 to 64 characters");
                    }
                    if value.chars().count() > 1024 {
                        self.problem(attribute, "an attribute value is at most 1024 characters");
                    }
                }
            }
            Step::Wait(wait) => {
                if !(1..=MAX_WAIT_MINUTES).contains(&wait.timeout_minutes) {
                    self.problem(
                        format!("{path}/timeout_minutes"),
                        format!("1 to {MAX_WAIT_MINUTES} minutes"),
                    );
                }
            }
            Step::Route(route) => {
                self.queue(&format!("{path}/queue"), &route.queue);
                self.optional_text(&format!("{path}/text"), route.text.as_ref(), MAX_TEXT_BODY);
            }
            Step::Handoff(handoff) => {
                if let Some(queue) = &handoff.queue {
                    self.queue(&format!("{path}/queue"), queue);
                }
                self.optional_text(&format!("{path}/text"), handoff.text.as_ref(), MAX_TEXT_BODY);
            }
            Step::End(end) => self.optional_text(&format!("{path}/text"), end.text.as_ref(), MAX_TEXT_BODY),
        }
    }

    fn message(&mut self, path: &str, message: &MessageStep) {
        if message.text.is_none() && message.media.is_none() && message.template.is_none() {
            self.problem(path, "a message needs text, media or a template");
        }
        if message.text.is_some() && message.media.is_some() {
            self.problem(path, "text or media, not both (a media's text is its caption)");
        }
        self.optional_text(&format!("{path}/text"), message.text.as_ref(), MAX_TEXT_BODY);
        if let Some(media) = &message.media {
            match (&media.id, &media.link) {
                (Some(_), Some(_)) | (None, None) => {
                    self.problem(format!("{path}/media"), "exactly one of id and link")
                }
                (None, Some(link)) if !link.starts_with("https://") || link.len() > 2048 => {
                    self.problem(format!("{path}/media/link"), "an https:// link");
                }
                (Some(id), None) if id.trim().is_empty() || id.len() > 256 => {
                    self.problem(format!("{path}/media/id"), "a media id is 1 to 256 characters");
                }
                _ => {}
            }
            if media.kind == MediaKind::Audio && media.caption.is_some() {
                self.problem(format!("{path}/media/caption"), "audio has no caption");
            }
            self.optional_text(&format!("{path}/media/caption"), media.caption.as_ref(), MAX_CAPTION);
            if media.filename.is_some() && media.kind != MediaKind::Document {
                self.problem(format!("{path}/media/filename"), "only documents have a file name");
            }
            self.optional_text(&format!("{path}/media/filename"), media.filename.as_ref(), 240);
        }
        if let Some(template) = &message.template {
            self.text(&format!("{path}/template/name"), &template.name, 512);
            self.text(&format!("{path}/template/language"), &template.language, 15);
            for (i, parameter) in template.parameters.iter().enumerate() {
                self.text(&format!("{path}/template/parameters/{i}"), parameter, 1024);
            }
        }
    }

    fn menu(&mut self, path: &str, menu: &MenuStep) {
        self.text(&format!("{path}/text"), &menu.text, MAX_INTERACTIVE_BODY);
        self.optional_text(&format!("{path}/header"), menu.header.as_ref(), MAX_HEADER_FOOTER);
        self.optional_text(&format!("{path}/footer"), menu.footer.as_ref(), MAX_HEADER_FOOTER);
        let (max_options, max_title) = match menu.style {
            MenuStyle::Buttons => (MAX_BUTTONS, MAX_BUTTON_TITLE),
            MenuStyle::List => (MAX_LIST_ROWS, MAX_ROW_TITLE),
        };
        if menu.options.is_empty() {
            self.problem(format!("{path}/options"), "a menu needs at least one option");
        } else if menu.options.len() > max_options {
            let what = if menu.style == MenuStyle::Buttons { "reply buttons" } else { "list rows" };
            self.problem(
                format!("{path}/options"),
                format!("at most {max_options} {what} (WhatsApp's limit)"),
            );
        }
        if menu.style == MenuStyle::Buttons {
            for (field, value) in [("button", &menu.button), ("section", &menu.section)] {
                if value.is_some() {
                    self.problem(
                        format!("{path}/{field}"),
                        "only lists have a button label and a section title",
                    );
                }
            }
        } else {
            self.optional_text(&format!("{path}/button"), menu.button.as_ref(), MAX_LIST_BUTTON);
            self.optional_text(&format!("{path}/section"), menu.section.as_ref(), MAX_SECTION_TITLE);
        }
        // Every word a typed answer may be, to find two options answering to the same one.
        let mut words: BTreeMap<String, usize> = BTreeMap::new();
        let mut ids = BTreeSet::new();
        for (i, option) in menu.options.iter().enumerate() {
            let at = format!("{path}/options/{i}");
            if option.id.is_empty() || option.id.chars().count() > MAX_REPLY_ID {
                self.problem(format!("{at}/id"), format!("an option id is 1 to {MAX_REPLY_ID} characters"));
            } else if !ids.insert(option.id.as_str()) {
                self.problem(format!("{at}/id"), format!("duplicate option id {:?}", option.id));
            }
            self.text(&format!("{at}/title"), &option.title, max_title);
            if option.description.is_some() && menu.style == MenuStyle::Buttons {
                self.problem(format!("{at}/description"), "only list rows have a description");
            }
            self.optional_text(
                &format!("{at}/description"),
                option.description.as_ref(),
                MAX_ROW_DESCRIPTION,
            );
            let title = normalize(&option.title);
            if words.get(&title).is_some_and(|&other| other != i) {
                self.problem(format!("{at}/title"), "another option has the same title or keyword");
            }
            words.entry(title).or_insert(i);
            for (j, keyword) in option.keywords.iter().enumerate() {
                let word = normalize(keyword);
                let kw = format!("{at}/keywords/{j}");
                if word.is_empty() || keyword.chars().count() > 64 {
                    self.problem(kw, "a keyword is 1 to 64 characters");
                } else if word.parse::<usize>().is_ok() {
                    self.problem(kw, "a number is read as an option number, not a keyword");
                } else if words.get(&word).is_some_and(|&other| other != i) {
                    self.problem(kw, "another option has the same title or keyword");
                } else {
                    words.entry(word).or_insert(i);
                }
            }
        }
        if let Some(retry) = &menu.retry {
            self.text(&format!("{path}/retry/text"), &retry.text, MAX_TEXT_BODY);
            if retry.max > MAX_TRIES {
                self.problem(format!("{path}/retry/max"), format!("0 to {MAX_TRIES}"));
            }
        }
    }

    fn ask(&mut self, path: &str, ask: &AskStep) {
        self.text(&format!("{path}/text"), &ask.text, MAX_TEXT_BODY);
        self.optional_text(&format!("{path}/invalid_text"), ask.invalid_text.as_ref(), MAX_TEXT_BODY);
        if !(1..=MAX_TRIES).contains(&ask.max_tries) {
            self.problem(format!("{path}/max_tries"), format!("1 to {MAX_TRIES}"));
        }
        let validate = format!("{path}/validate");
        match &ask.validate {
            Validation::Text { max_length: Some(max) } if !(1..=MAX_TEXT_ANSWER).contains(max) => {
                self.problem(format!("{validate}/max_length"), format!("1 to {MAX_TEXT_ANSWER}"));
            }
            Validation::Number { min: Some(min), max: Some(max) } if min > max => {
                self.problem(format!("{validate}/min"), "min must not be above max");
            }
            Validation::Options { options } => {
                if options.is_empty() || options.len() > 20 {
                    self.problem(format!("{validate}/options"), "1 to 20 options");
                }
                let mut seen = BTreeSet::new();
                for (i, option) in options.iter().enumerate() {
                    let word = normalize(option);
                    if word.is_empty() || option.chars().count() > 64 {
                        self.problem(format!("{validate}/options/{i}"), "an option is 1 to 64 characters");
                    } else if word.parse::<usize>().is_ok() {
                        self.problem(
                            format!("{validate}/options/{i}"),
                            "a number is read as an option number",
                        );
                    } else if !seen.insert(word) {
                        self.problem(format!("{validate}/options/{i}"), "duplicate option");
                    }
                }
            }
            _ => {}
        }
        match &ask.store {
            Some(Store::Contact(ContactField::Email)) if ask.validate != Validation::Email => {
                self.problem(format!("{validate}/kind"), "a contact's email is stored from kind email only");
            }
            Some(Store::Contact(ContactField::Name)) if !matches!(ask.validate, Validation::Text { .. }) => {
                self.problem(format!("{validate}/kind"), "a contact's name is stored from kind text only");
            }
            Some(Store::Attribute(name)) if name.trim().is_empty() || name.chars().count() > 64 => {
                self.problem(format!("{path}/store/attribute"), "an attribute name is 1 to 64 characters");
            }
            Some(Store::Lead(LeadField::Stage)) => match &ask.validate {
                Validation::Options { options } => {
                    for (i, option) in options.iter().enumerate() {
                        if LeadStage::parse(option).is_none() {
                            self.problem(
                                format!("{validate}/options/{i}"),
                                "not a lead stage (new, contacted, qualified, won, lost)",
                            );
                        }
                    }
                }
                _ => self.problem(
                    format!("{validate}/kind"),
                    "a lead's stage is stored from kind options naming stages",
                ),
            },
            _ => {}
        }
    }

    /// Steps no path from `start` reaches.
    fn unreachable(&mut self) {
        let def = self.def;
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut todo: Vec<&StepId> = vec![&def.start];
        while let Some(id) = todo.pop() {
            let Some(step) = def.steps.get(id) else { continue };
            if !seen.insert(id.as_str()) {
                continue;
            }
            todo.extend(targets(step).into_iter().filter_map(|(_, target)| target));
        }
        if !def.steps.contains_key(&def.start) {
            return; // Already named at /start; every step would be reported again.
        }
        for id in def.steps.keys().filter(|id| !seen.contains(id.as_str())) {
            self.problem(
                format!("/steps/{}", escape_pointer(id)),
                "unreachable: no path from start leads here",
            );
        }
    }

    /// Cycles of steps that neither wait for the customer nor lead out of the cycle: a turn
    /// entering one would run forever (the interpreter's step limit would hand off).
    fn loops(&mut self) {
        let def = self.def;
        // Edges between steps that run on without waiting; a reference to a waiting, final or
        // unknown step, or the end of the flow, is an exit (`None`).
        let edges: BTreeMap<&str, Vec<Option<&str>>> = def
            .steps
            .iter()
            .filter(|(_, step)| !waits(step))
            .map(|(id, step)| {
                let out = targets(step)
                    .into_iter()
                    .map(|(_, target)| {
                        target.filter(|t| def.steps.get(*t).is_some_and(|s| !waits(s))).map(String::as_str)
                    })
                    .collect();
                (id.as_str(), out)
            })
            .collect();
        let reach = |from: &str| {
            let mut seen = BTreeSet::new();
            let mut todo: Vec<&str> = edges.get(from).into_iter().flatten().flatten().copied().collect();
            while let Some(id) = todo.pop() {
                if seen.insert(id) {
                    todo.extend(edges.get(id).into_iter().flatten().flatten().copied());
                }
            }
            seen
        };
        let reaches: BTreeMap<&str, BTreeSet<&str>> = edges.keys().map(|id| (*id, reach(id))).collect();
        let mut reported: BTreeSet<&str> = BTreeSet::new();
        for (id, reached) in &reaches {
            if !reached.contains(id) || reported.contains(id) {
                continue;
            }
            let cycle: BTreeSet<&str> = reached
                .iter()
                .copied()
                .filter(|other| reaches.get(other).is_some_and(|r| r.contains(id)))
                .collect();
            reported.extend(cycle.iter().copied());
            let exits = cycle.iter().any(|member| {
                edges.get(member).into_iter().flatten().any(|t| t.is_none_or(|t| !cycle.contains(t)))
            });
            if !exits {
                let names: Vec<&str> = cycle.iter().copied().collect();
                self.problem(
                    format!("/steps/{}", escape_pointer(names[0])),
                    format!(
                        "a loop with no exit: {} never wait for the customer nor lead out",
                        names.join(", ")
                    ),
                );
            }
        }
    }
}
