//! The exports of P60 a page at a time: every answer stays far below Lambda's 6 MB response
//! limit and makes a bounded number of store reads, whatever the size of the history.
//!
//! A page is filled item by item (a lead, a message, a timeline entry, an audit entry …) until
//! [`Budget`] says it is full: [`PAGE_BYTES`] of JSON or [`PAGE_READS`] store reads. Where it
//! stopped goes into the `next` cursor, which names the section and the position inside it
//! (the store cursor of the batch and how many of its items were already given). A contact or
//! conversation that continues on the next page appears there again with the rest of its lists,
//! so the union of the pages, lists joined by contact and conversation id, is the whole export.
//! A small export is one page, as before.

use serde::{Deserialize, Serialize};
use shared::domain::ai::{SuggestionStore as _, SuggestionView};
use shared::domain::crm::{Activity, ContactRecord, RecordKind, RecordStore as _};
use shared::domain::inbox::{
    ConsentEventView, ContactStore as _, ContactView, ConversationFilter, ConversationStore as _,
    ConversationView, LeadFilter, LeadStore as _, LeadView, MessageView,
};
use shared::domain::{ContactId, TenantId};
use shared::kernel::Page;
use shared::lambda::http::Problem;

use crate::errors::ApiError;
use crate::{Adapters, Deps};

pub mod tables;

/// JSON bytes of the items of one page, at most (one item may cross it, so that every page
/// moves on). Lambda carries the body inside its JSON response as an escaped string, which at
/// most doubles it: 2 MB of items stay under 5 MB however many quotes they hold.
pub const PAGE_BYTES: usize = 2_000_000;

/// The same for CSV pages: their tables are JSON strings in the body, escaped once more, so
/// they get half.
pub const CSV_PAGE_BYTES: usize = 1_000_000;

/// Store reads of one page, at most: the work of a request stays bounded even when its items
/// are small (many empty conversations, many contacts with little data).
pub const PAGE_READS: u32 = 400;

/// Items asked for per store read.
pub const BATCH: u16 = 100;

/// What one page may still hold.
#[derive(Debug)]
pub struct Budget {
    bytes: usize,
    reads: u32,
    used: usize,
    items: usize,
}

impl Budget {
    /// A page of `bytes` and [`PAGE_READS`].
    #[must_use]
    pub const fn new(bytes: usize) -> Self {
        Self { bytes, reads: PAGE_READS, used: 0, items: 0 }
    }

    /// Takes one store read; `false` when the page has made its last.
    pub fn read(&mut self) -> bool {
        if self.reads == 0 {
            return false;
        }
        self.reads -= 1;
        true
    }

    /// Takes `item` when it still fits (the first item of a page always does).
    fn admit<T: Serialize>(&mut self, item: &T) -> bool {
        let size = json_size(item);
        if self.items > 0 && self.used + size > self.bytes {
            // Full: nothing more, not even a smaller item, so that the order holds.
            self.bytes = 0;
            return false;
        }
        self.used += size;
        self.items += 1;
        true
    }

    /// Counts what a page repeats (the contact or conversation a continued list belongs to).
    fn charge<T: Serialize>(&mut self, item: &T) {
        self.used += json_size(item);
    }
}

/// The length of `value` as JSON, without building the text.
fn json_size<T: Serialize>(value: &T) -> usize {
    #[derive(Default)]
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count::default();
    // Serializing our own views cannot fail; were it to, the size would be 0 and the item taken.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Where a paged listing resumes: after the store cursor `after`, skipping the `skip` items of
/// that batch already given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The store cursor of the batch.
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Its items already given.
    #[serde(rename = "s", default)]
    pub skip: u16,
}

impl Resume {
    /// At the `index`th item of the batch after `after`.
    #[must_use]
    pub fn at(after: Option<String>, index: usize) -> Self {
        Self { after, skip: index_u16(index) }
    }
}

fn index_u16(index: usize) -> u16 {
    u16::try_from(index).unwrap_or(u16::MAX)
}

/// Admits the items of a paged listing from `at` on into `out`; where to resume, or `None` when
/// the listing is through.
///
/// # Errors
/// When a read fails.
pub async fn section<T, E, F, Fut>(
    mut at: Resume,
    budget: &mut Budget,
    out: &mut Vec<T>,
    mut fetch: F,
) -> Result<Option<Resume>, ApiError>
where
    T: Serialize,
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, E>>,
    ApiError: From<E>,
{
    loop {
        if !budget.read() {
            return Ok(Some(at));
        }
        let page = fetch(at.after.clone()).await?;
        for (index, item) in page.items.into_iter().enumerate().skip(usize::from(at.skip)) {
            if !budget.admit(&item) {
                return Ok(Some(Resume { after: at.after, skip: index_u16(index) }));
            }
            out.push(item);
        }
        match page.next {
            Some(next) => at = Resume { after: Some(next), skip: 0 },
            None => return Ok(None),
        }
    }
}

/// Admits the items of a list read whole (bounded lists: the consent ledger, a conversation's
/// AI suggestions) from `skip` on; how many are given when the page filled first.
fn rest_of<T: Serialize>(items: Vec<T>, skip: u16, budget: &mut Budget, out: &mut Vec<T>) -> Option<u16> {
    for (index, item) in items.into_iter().enumerate().skip(usize::from(skip)) {
        if !budget.admit(&item) {
            return Some(index_u16(index));
        }
        out.push(item);
    }
    None
}

/// One contact and everything linked to it (on a page: the part of it that page holds).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ContactExport {
    /// The contact.
    pub contact: ContactView,
    /// Its consent ledger.
    pub consent_ledger: Vec<ConsentEventView>,
    /// Its leads.
    pub leads: Vec<LeadView>,
    /// Its conversations with their messages (and statuses).
    pub conversations: Vec<ConversationExport>,
    /// Its notes, tasks and appointments.
    pub records: Vec<ContactRecord>,
    /// Its timeline, newest first.
    pub timeline: Vec<Activity>,
}

impl ContactExport {
    fn of(contact: ContactView) -> Self {
        Self {
            contact,
            consent_ledger: Vec::new(),
            leads: Vec::new(),
            conversations: Vec::new(),
            records: Vec::new(),
            timeline: Vec::new(),
        }
    }
}

/// A conversation and its messages (on a page: the part of it that page holds).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ConversationExport {
    /// The conversation.
    pub conversation: ConversationView,
    /// Its messages, oldest first.
    pub messages: Vec<MessageView>,
    /// AI suggestions (replies, summaries, sentiment) requested on it (P30), oldest first.
    pub ai_suggestions: Vec<SuggestionView>,
}

/// Where in one contact's data a page resumes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "p")]
pub enum Part {
    /// The consent ledger, from this entry.
    #[serde(rename = "c")]
    Consent {
        /// Entries already given.
        #[serde(rename = "s")]
        skip: u16,
    },
    /// The leads.
    #[serde(rename = "l")]
    Leads(Resume),
    /// The conversations: `list` points at the current one, `inner` says where in it.
    #[serde(rename = "v")]
    Conversations {
        /// The batch of the conversation listing and the current conversation's place in it.
        list: Resume,
        /// Where in the current conversation (`None`: at its start).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inner: Option<InConversation>,
    },
    /// The records of `RecordKind::ALL[kind]` and the kinds after it.
    #[serde(rename = "r")]
    Records {
        /// Index into `RecordKind::ALL`.
        kind: u8,
        /// Where in its listing.
        at: Resume,
    },
    /// The timeline (newest first): the activities before `before`, less the `skip` first.
    #[serde(rename = "t")]
    Timeline {
        /// Epoch ms (exclusive); `None`: from the newest.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<i64>,
        /// Activities of that read already given.
        skip: u16,
    },
}

impl Part {
    /// The start of a contact.
    pub const START: Self = Self::Consent { skip: 0 };
}

/// Where in one conversation a page resumes (after its view, which every page repeats).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "q")]
pub enum InConversation {
    /// Its messages.
    #[serde(rename = "m")]
    Messages(Resume),
    /// Its AI suggestions, less the `skip` first.
    #[serde(rename = "s")]
    Suggestions {
        /// Already given.
        skip: u16,
    },
}

/// One contact's share of a page and where the next page resumes in it (`None`: the contact is
/// complete; the part it started from: the page gave nothing of it, and leaves it out).
pub type ContactShare = (ContactExport, Option<Part>);

/// Fills `budget` with `contact`'s data from `part` on.
///
/// # Errors
/// When a store fails or the cursor holds a store cursor the store refuses.
pub async fn contact_page<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    contact: ContactView,
    mut part: Part,
    budget: &mut Budget,
) -> Result<ContactShare, ApiError> {
    budget.charge(&contact);
    let id = contact.id.clone();
    let mut out = ContactExport::of(contact);
    loop {
        let left = match part {
            Part::Consent { skip } => {
                if !budget.read() {
                    return Ok((out, Some(Part::Consent { skip })));
                }
                let ledger = deps.contacts.consent_ledger(tenant, &id).await?;
                rest_of(ledger, skip, budget, &mut out.consent_ledger)
                    .map(|skip| Part::Consent { skip })
                    .ok_or(Part::Leads(Resume::default()))
            }
            Part::Leads(at) => {
                let filter = &LeadFilter { contact: Some(id.clone()), ..LeadFilter::default() };
                let leads = &deps.leads;
                section(at, budget, &mut out.leads, |after| async move {
                    leads.leads(tenant, filter, after.as_deref(), BATCH).await
                })
                .await?
                .map(Part::Leads)
                .ok_or(Part::Conversations { list: Resume::default(), inner: None })
            }
            Part::Conversations { list, inner } => {
                match conversations_page(deps, tenant, &id, list, inner, budget, &mut out.conversations)
                    .await?
                {
                    Some((list, inner)) => Ok(Part::Conversations { list, inner }),
                    None => Err(Part::Records { kind: 0, at: Resume::default() }),
                }
            }
            Part::Records { kind, at } => {
                let Some(record_kind) = RecordKind::ALL.get(usize::from(kind)).copied() else {
                    part = Part::Timeline { before: None, skip: 0 };
                    continue;
                };
                let records = &deps.records;
                let id = &id;
                section(at, budget, &mut out.records, |after| async move {
                    records.records(tenant, id, record_kind, after.as_deref(), BATCH).await
                })
                .await?
                .map(|at| Part::Records { kind, at })
                .ok_or(Part::Records { kind: kind.saturating_add(1), at: Resume::default() })
            }
            Part::Timeline { before, skip } => {
                match timeline_page(deps, tenant, &id, before, skip, budget, &mut out.timeline).await? {
                    Some(left) => Ok(left),
                    None => return Ok((out, None)),
                }
            }
        };
        match left {
            // The page is full inside this part.
            Ok(resume) => return Ok((out, Some(resume))),
            // This part is through: on to the next.
            Err(next) => part = next,
        }
    }
}

/// The contact's conversations from `list`/`inner` on; where to resume, `None` when through.
async fn conversations_page<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    contact: &ContactId,
    mut list: Resume,
    mut inner: Option<InConversation>,
    budget: &mut Budget,
    out: &mut Vec<ConversationExport>,
) -> Result<Option<(Resume, Option<InConversation>)>, ApiError> {
    let every = ConversationFilter::default();
    loop {
        if !budget.read() {
            return Ok(Some((list, inner)));
        }
        let page = deps
            .conversations
            .conversations(tenant, Some(contact), &every, list.after.as_deref(), BATCH)
            .await?;
        for (index, conversation) in page.items.into_iter().enumerate().skip(usize::from(list.skip)) {
            let here = Resume { after: list.after.clone(), skip: index_u16(index) };
            let resumed = inner.take();
            let started = resumed.is_some();
            if started {
                budget.charge(&conversation);
            } else if !budget.admit(&conversation) {
                return Ok(Some((here, None)));
            }
            let id = conversation.id.clone();
            let mut exported =
                ConversationExport { conversation, messages: Vec::new(), ai_suggestions: Vec::new() };
            let mut at = resumed.unwrap_or(InConversation::Messages(Resume::default()));
            let left = loop {
                match at {
                    InConversation::Messages(resume) => {
                        let conversations = &deps.conversations;
                        let id = &id;
                        match section(resume, budget, &mut exported.messages, |after| async move {
                            conversations.messages(tenant, id, after.as_deref(), BATCH).await
                        })
                        .await?
                        {
                            Some(resume) => break Some(InConversation::Messages(resume)),
                            None => at = InConversation::Suggestions { skip: 0 },
                        }
                    }
                    InConversation::Suggestions { skip } => {
                        if !budget.read() {
                            break Some(InConversation::Suggestions { skip });
                        }
                        let suggestions = deps.suggestions.suggestions(tenant, &id).await?;
                        break rest_of(suggestions, skip, budget, &mut exported.ai_suggestions)
                            .map(|skip| InConversation::Suggestions { skip });
                    }
                }
            };
            out.push(exported);
            if let Some(left) = left {
                return Ok(Some((here, Some(left))));
            }
        }
        match page.next {
            Some(next) => list = Resume { after: Some(next), skip: 0 },
            None => return Ok(None),
        }
    }
}

/// The timeline (newest first) from `before`/`skip` on; where to resume, `None` when through.
/// Activities are read by time: a read continues just above the last time given and skips the
/// activities of that very millisecond already given, so none is lost or given twice.
async fn timeline_page<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    contact: &ContactId,
    mut before: Option<i64>,
    mut skip: u16,
    budget: &mut Budget,
    out: &mut Vec<Activity>,
) -> Result<Option<Part>, ApiError> {
    loop {
        if !budget.read() {
            return Ok(Some(Part::Timeline { before, skip }));
        }
        let asked = skip.saturating_add(BATCH);
        let batch = deps.records.activities(tenant, contact, before, asked).await?;
        let complete = batch.len() < usize::from(asked);
        let Some(oldest) = batch.last().map(|a| a.at) else {
            return Ok(None);
        };
        for (index, activity) in batch.iter().enumerate().skip(usize::from(skip)) {
            if !budget.admit(activity) {
                return Ok(Some(Part::Timeline { before, skip: index_u16(index) }));
            }
            out.push(activity.clone());
        }
        if complete {
            return Ok(None);
        }
        // Next: from `oldest` down, less the activities of that millisecond given already (all
        // of the batch when it holds nothing else).
        before = Some(oldest.saturating_add(1));
        skip = index_u16(batch.iter().filter(|a| a.at == oldest).count());
    }
}

/// A cursor as the API hands it out: the position, as base64url JSON.
#[must_use]
pub fn encode<T: Serialize>(position: &T) -> Option<String> {
    serde_json::to_string(position).ok().map(|json| super::inbox::encode_cursor(&json))
}

/// The position a `cursor` parameter names.
///
/// # Errors
/// 400 for a cursor this export did not hand out.
pub fn decode<T: serde::de::DeserializeOwned>(query: &super::inbox::Query) -> Result<Option<T>, ApiError> {
    super::inbox::cursor(query)?
        .map(|json| {
            serde_json::from_str(&json)
                .map_err(|_| ApiError::from(Problem::bad_request("cursor is not one this export returned")))
        })
        .transpose()
}
