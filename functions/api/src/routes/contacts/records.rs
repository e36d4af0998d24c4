//! A contact's notes, tasks and appointments, and its timeline.

use super::*;

/// `POST /v1/contacts/{contact_id}/{notes|tasks|appointments}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    /// The note's text (up to 10,000 characters), the task's or appointment's title (up to 500).
    #[schemars(length(min = 1, max = 10000))]
    pub text: String,
    /// Task: due, epoch ms.
    #[serde(default)]
    pub due_at: Option<i64>,
    /// Task: who should do it (a user id).
    #[serde(default)]
    pub assignee: Option<UserId>,
    /// Appointment: start, epoch ms (required for appointments).
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// Appointment: end, epoch ms (required for appointments, after the start).
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// Appointment: where (up to 500 characters).
    #[serde(default)]
    pub location: Option<String>,
}

/// `PATCH` of a record; null clears an optional field.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPatch {
    /// Text or title.
    #[serde(default)]
    pub text: Option<String>,
    /// Task: due.
    #[serde(default, deserialize_with = "nullable")]
    pub due_at: Option<Option<i64>>,
    /// Task: assignee.
    #[serde(default, deserialize_with = "nullable")]
    pub assignee: Option<Option<UserId>>,
    /// Task: done (true completes it, false reopens it).
    #[serde(default)]
    pub done: Option<bool>,
    /// Appointment: start.
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// Appointment: end.
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// Appointment: where.
    #[serde(default, deserialize_with = "nullable")]
    pub location: Option<Option<String>>,
}

/// A page of the timeline.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TimelinePage {
    /// Newest first.
    pub items: Vec<Activity>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The conversations of a contact whose messages the timeline shows (the latest ones).
const TIMELINE_CONVERSATIONS: u16 = 20;

/// Where a timeline page ends: the time of its last entry, and how many entries at that very
/// millisecond were shown so far. Entries are ordered newest first; within one millisecond by
/// source (activities, then each conversation's messages) and each source's own stored order,
/// so a page resumes exactly after its cursor even when many entries share a millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct TimelineCursor {
    at: i64,
    seen: u32,
}

impl TimelineCursor {
    fn encode(self) -> String {
        use base64::Engine as _;
        let json = serde_json::to_vec(&self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(raw: &str) -> Result<Self, ApiError> {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| bad("cursor: not the `next` of a timeline page"))
    }
}

/// `GET /v1/contacts/{contact_id}/timeline`: one page, newest first. An agent sees the
/// messages and state changes of the conversations they may see only; notes, tasks,
/// appointments and changes to the contact and its leads belong to the contact, which they may
/// see.
///
/// Bounded work whatever the history's length: one read of at most `limit + 1` activities (more
/// only to step over entries of the cursor's own millisecond), one of the contact's latest
/// conversations, and one of as many messages from each.
///
/// # Errors
/// 404 as for reads; 400 for a bad `cursor`, `before` or limit.
pub async fn timeline<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let contact = visible_contact(&ctx, deps).await?;
    let principal = ctx.tenant()?;
    let tenant = &principal.tenant_id;
    let limit = paging(ctx.query)?.limit;
    let cursor = ctx.query.get("cursor").map(|raw| TimelineCursor::decode(raw)).transpose()?;
    // From the cursor's millisecond on (inclusive): the entries it already showed are skipped.
    let before = match cursor {
        Some(cursor) => Some(cursor.at.saturating_add(1)),
        None => millis(ctx.query, "before")?,
    };
    let skip = cursor.map_or(0, |c| c.seen);
    let fetch = limit.saturating_add(1).saturating_add(u16::try_from(skip).unwrap_or(u16::MAX));
    let mut activities = deps.records.activities(tenant, &contact.id, before, fetch).await?;
    // A full read of activities means more may follow, whatever the agent's filter leaves.
    let mut full = activities.len() >= usize::from(fetch);
    // Messages come from the contact's latest conversations — for an agent, only those they may
    // see (P14), as `GET /v1/conversations` lists them.
    let scope = principal.agent_scope();
    let filter = ConversationFilter { visible_to: scope.clone(), ..ConversationFilter::default() };
    let conversations = deps
        .conversations
        .conversations(tenant, Some(&contact.id), &filter, None, TIMELINE_CONVERSATIONS)
        .await?;
    if scope.is_some() {
        // What happened in another conversation of the person is not theirs to see either.
        let visible: Vec<String> = conversations.items.iter().map(|c| c.id.to_string()).collect();
        activities.retain(|activity| {
            !activity.kind.starts_with("conversation.")
                || activity.ref_id.as_ref().is_some_and(|id| visible.contains(id))
        });
    }
    // (time, source) with each source's own order kept: the sort below is stable.
    let mut entries: Vec<(i64, usize, Activity)> = activities.into_iter().map(|a| (a.at, 0, a)).collect();
    for (source, conversation) in (1..).zip(conversations.items) {
        let messages = deps.conversations.messages_before(tenant, &conversation.id, before, fetch).await?;
        full |= messages.len() >= usize::from(fetch);
        entries.extend(messages.into_iter().map(|m| {
            let activity = Activity {
                at: m.timestamp,
                kind: format!("message.{}", m.direction),
                ref_id: Some(m.id.to_string()),
                detail: Some(m.kind),
                actor: None,
            };
            (m.timestamp, source, activity)
        }));
    }
    entries.sort_by_key(|(at, source, _)| (std::cmp::Reverse(*at), *source));
    let mut items: Vec<Activity> = entries.into_iter().map(|(_, _, activity)| activity).collect();
    if let Some(cursor) = cursor {
        let shown = items
            .iter()
            .take_while(|a| a.at == cursor.at)
            .count()
            .min(usize::try_from(skip).unwrap_or(usize::MAX));
        items.drain(..shown);
    }
    let more = full || items.len() > usize::from(limit);
    items.truncate(usize::from(limit));
    let next = match items.last() {
        Some(last) if more && items.len() == usize::from(limit) => {
            let here = items.iter().filter(|a| a.at == last.at).count();
            let earlier = cursor.filter(|c| c.at == last.at).map_or(0, |c| c.seen);
            let seen = earlier.saturating_add(u32::try_from(here).unwrap_or(u32::MAX));
            Some(TimelineCursor { at: last.at, seen }.encode())
        }
        _ => None,
    };
    Ok(json_response(StatusCode::OK, &TimelinePage { items, next }))
}

pub(super) fn record_not_found() -> ApiError {
    Problem::not_found("no such record").into()
}

pub(super) async fn check_assignee<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    assignee: Option<&UserId>,
) -> Result<(), ApiError> {
    match assignee {
        Some(user) if !deps.directory_user(&principal.tenant_id, user).await? => {
            Err(bad("assignee is not a user of this tenant"))
        }
        _ => Ok(()),
    }
}

/// Checks a record's fields against its kind.
pub(super) fn validate_record(record: &ContactRecord) -> Result<(), ApiError> {
    let text_max = if record.kind == RecordKind::Note { 10_000 } else { 500 };
    let length = record.text.trim().chars().count();
    if !(1..=text_max).contains(&length) {
        return Err(bad(format!("text must be 1 to {text_max} characters")));
    }
    let task_fields = record.due_at.is_some() || record.assignee.is_some() || record.done_at.is_some();
    let appointment_fields =
        record.starts_at.is_some() || record.ends_at.is_some() || record.location.is_some();
    match record.kind {
        RecordKind::Note if task_fields || appointment_fields => Err(bad("a note has only text")),
        RecordKind::Task if appointment_fields => Err(bad("a task has text, due_at, assignee and done")),
        RecordKind::Appointment if task_fields => {
            Err(bad("an appointment has text, starts_at, ends_at and location"))
        }
        RecordKind::Appointment => match (record.starts_at, record.ends_at) {
            (Some(start), Some(end)) if end > start && start >= 0 => {
                if record.location.as_ref().is_some_and(|l| l.chars().count() > 500) {
                    return Err(bad("location must be up to 500 characters"));
                }
                Ok(())
            }
            _ => Err(bad("an appointment needs starts_at and a later ends_at (epoch ms)")),
        },
        _ if record.due_at.is_some_and(|d| d < 0) => Err(bad("due_at must be epoch milliseconds")),
        _ => Ok(()),
    }
}

pub(super) fn record_error(error: RecordError) -> ApiError {
    match error {
        RecordError::Conflict => {
            Problem::conflict("the record changed meanwhile; read it again and retry").into()
        }
        other => other.into(),
    }
}

/// `GET /v1/contacts/{contact_id}/{kind}s`.
///
/// # Errors
/// 404 as for the contact; 400 for a bad limit or cursor.
pub async fn list_records<A: Adapters>(
    kind: RecordKind,
    ctx: Ctx<'_>,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let contact = visible_contact(&ctx, deps).await?;
    let paging = paging(ctx.query)?;
    let page = deps
        .records
        .records(&ctx.tenant()?.tenant_id, &contact.id, kind, paging.after.as_deref(), paging.limit)
        .await
        .map_err(record_error)?;
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}

/// `POST /v1/contacts/{contact_id}/{kind}s`.
///
/// # Errors
/// 404 as for the contact; 400 for fields that do not fit the kind.
pub async fn create_record<A: Adapters>(
    kind: RecordKind,
    ctx: Ctx<'_>,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: RecordBody = json_body(ctx.body)?;
    let contact = visible_contact(&ctx, deps).await?;
    check_assignee(deps, principal, body.assignee.as_ref()).await?;
    let now = deps.clock.now();
    let record = ContactRecord {
        id: RecordId::generate(now)?,
        contact_id: contact.id.clone(),
        kind,
        text: body.text.trim().to_owned(),
        due_at: body.due_at,
        assignee: body.assignee,
        done_at: None,
        starts_at: body.starts_at,
        ends_at: body.ends_at,
        location: body.location.map(|l| l.trim().to_owned()),
        conversation_id: None,
        author: principal.actor.clone(),
        created_at: now.as_millis(),
        updated_at: now.as_millis(),
    };
    validate_record(&record)?;
    deps.records.put_record(&principal.tenant_id, &record, None).await.map_err(record_error)?;
    let activity = Activity {
        at: now.as_millis(),
        kind: format!("{}.created", kind.as_str()),
        ref_id: Some(record.id.to_string()),
        detail: None,
        actor: actor_of(principal),
    };
    deps.records.add_activity(&principal.tenant_id, &contact.id, &activity).await.map_err(record_error)?;
    deps.audit(
        principal,
        &format!("{}.create", kind.as_str()),
        target(kind.as_str(), record.id.as_str()),
        |e| e.about(&contact.id),
    )
    .await;
    Ok(json_response(StatusCode::CREATED, &record))
}

pub(super) async fn record_of<A: Adapters>(
    kind: RecordKind,
    ctx: &Ctx<'_>,
    deps: &Deps<A>,
) -> Result<(ContactView, Versioned<ContactRecord>), ApiError> {
    let contact = visible_contact(ctx, deps).await?;
    let id = path_id(ctx.param("record_id"), RecordId::parse, "record")?;
    let record = deps
        .records
        .record(&ctx.tenant()?.tenant_id, &contact.id, kind, &id)
        .await
        .map_err(record_error)?
        .ok_or_else(record_not_found)?;
    Ok((contact, record))
}

/// `PATCH /v1/contacts/{contact_id}/{kind}s/{record_id}`.
///
/// # Errors
/// 404 as for the contact or record; 400 for fields that do not fit the kind; 409 on a
/// concurrent change.
pub async fn update_record<A: Adapters>(
    kind: RecordKind,
    ctx: Ctx<'_>,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: RecordPatch = json_body(ctx.body)?;
    let (contact, Versioned { value: mut record, version }) = record_of(kind, &ctx, deps).await?;
    let now = deps.clock.now();
    let mut fields = Vec::new();
    if let Some(text) = body.text {
        record.text = text.trim().to_owned();
        fields.push("text");
    }
    if let Some(due_at) = body.due_at {
        record.due_at = due_at;
        fields.push("due_at");
    }
    if let Some(assignee) = body.assignee {
        check_assignee(deps, principal, assignee.as_ref()).await?;
        record.assignee = assignee;
        fields.push("assignee");
    }
    let completed = match body.done {
        Some(_) if kind != RecordKind::Task => return Err(bad("only tasks are done")),
        Some(true) if record.done_at.is_none() => {
            record.done_at = Some(now.as_millis());
            fields.push("done");
            true
        }
        Some(false) => {
            record.done_at = None;
            fields.push("done");
            false
        }
        _ => false,
    };
    if let Some(starts_at) = body.starts_at {
        record.starts_at = Some(starts_at);
        fields.push("starts_at");
    }
    if let Some(ends_at) = body.ends_at {
        record.ends_at = Some(ends_at);
        fields.push("ends_at");
    }
    if let Some(location) = body.location {
        record.location = location.map(|l| l.trim().to_owned());
        fields.push("location");
    }
    record.updated_at = now.as_millis();
    validate_record(&record)?;
    deps.records.put_record(&principal.tenant_id, &record, Some(version)).await.map_err(record_error)?;
    if completed {
        let activity = Activity {
            at: now.as_millis(),
            kind: "task.completed".to_owned(),
            ref_id: Some(record.id.to_string()),
            detail: None,
            actor: actor_of(principal),
        };
        deps.records
            .add_activity(&principal.tenant_id, &contact.id, &activity)
            .await
            .map_err(record_error)?;
    }
    deps.audit(
        principal,
        &format!("{}.update", kind.as_str()),
        target(kind.as_str(), record.id.as_str()),
        |e| e.with_fields(fields).about(&contact.id),
    )
    .await;
    Ok(json_response(StatusCode::OK, &record))
}

/// `DELETE /v1/contacts/{contact_id}/{kind}s/{record_id}`.
///
/// # Errors
/// 404 as for the contact or record.
pub async fn delete_record<A: Adapters>(
    kind: RecordKind,
    ctx: Ctx<'_>,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let (contact, record) = record_of(kind, &ctx, deps).await?;
    if !deps
        .records
        .delete_record(&principal.tenant_id, &contact.id, kind, &record.value.id)
        .await
        .map_err(record_error)?
    {
        return Err(record_not_found());
    }
    deps.audit(
        principal,
        &format!("{}.delete", kind.as_str()),
        target(kind.as_str(), record.value.id.as_str()),
        |e| e.about(&contact.id),
    )
    .await;
    Ok(no_content())
}
