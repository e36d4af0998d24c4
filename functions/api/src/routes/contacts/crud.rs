//! Contacts themselves: list, create (or merge into the existing person), read, correct, delete.

use super::*;

/// `GET /v1/contacts[?phone=…|email=…|tag=…]`: a bulk read, audited.
///
/// # Errors
/// 400 for a bad parameter.
pub async fn list<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant = &principal.tenant_id;
    let paging = paging(ctx.query)?;
    let by_phone = phone_filter(ctx.query)?;
    let by_email =
        ctx.query.get("email").map(|raw| email(raw).map_err(|e| bad(format!("email: {e}")))).transpose()?;
    if by_phone.is_some() || by_email.is_some() {
        let found = match (&by_phone, &by_email) {
            (Some(phone), _) => deps.contacts.contact_by_phone(tenant, phone).await?,
            (None, Some(email)) => deps.contacts.contact_by_email(tenant, email).await?,
            (None, None) => None,
        };
        let items = match found {
            Some(contact) => vec![detail(deps, principal, contact).await?],
            None => Vec::new(),
        };
        deps.audit(
            principal,
            "contact.lookup",
            target("contact", items.first().map_or("-".to_owned(), |d| d.contact.id.to_string())),
            |e| e,
        )
        .await;
        return Ok(json_response(StatusCode::OK, &PageView { items, next: None }));
    }
    let filter = ContactFilter { tag: text(ctx.query, "tag", 64)? };
    let page = deps.contacts.contacts(tenant, &filter, paging.after.as_deref(), paging.limit).await?;
    deps.audit(principal, "contact.list", target("contact", "*"), |e| e.with_count(page.items.len() as u64))
        .await;
    let page = shared::kernel::Page {
        items: page
            .items
            .into_iter()
            .map(|contact| ContactDetail { contact, consent_ledger: Vec::new(), leads: Vec::new() })
            .collect(),
        next: page.next,
    };
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}

/// `POST /v1/contacts`.
///
/// # Errors
/// 400 for a bad body or neither phone nor email; 403 at the plan's contact limit.
pub async fn create<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: CreateContactBody = json_body(ctx.body)?;
    let profile = person(body.phone.as_deref(), body.email.as_deref(), body.name.as_deref())?;
    let tags = tags(body.tags).map_err(|e| bad(format!("tags: {e}")))?;
    let attributes = attributes(body.attributes).map_err(|e| bad(format!("attributes: {e}")))?;
    if !exists(deps, principal, &profile).await? {
        within_contact_limit(deps, principal).await?;
    }
    let now = deps.clock.now();
    let (mut contact, stored) = deps.contacts.create_contact(&principal.tenant_id, &profile, now).await?;
    if let Some(changed) = merge(deps, principal, &contact, tags, attributes).await? {
        contact = changed;
    }
    if let Some(kind) = body.consent {
        record_consent(
            deps,
            principal,
            &profile,
            kind.into(),
            consent_source(principal),
            &format!("api:{}", shared::domain::new_ulid(now)?),
        )
        .await?;
    }
    let contact = deps.contacts.contact(&principal.tenant_id, &contact.id).await?.unwrap_or(contact);
    let (status, action) = match stored {
        Stored::Created => (StatusCode::CREATED, "contact.create"),
        Stored::Duplicate => (StatusCode::OK, "contact.update"),
    };
    deps.audit(principal, action, target("contact", contact.id.as_str()), |e| {
        e.with_fields(["phone", "email", "name", "tags", "attributes", "consent"])
    })
    .await;
    Ok(json_response(status, &detail(deps, principal, contact).await?))
}

/// `GET /v1/contacts/{contact_id}`.
///
/// # Errors
/// 404 for an unknown, another tenant's or (agents) an unreachable contact.
pub async fn get<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let contact = visible_contact(&ctx, deps).await?;
    let principal = ctx.tenant()?;
    deps.audit(principal, "contact.read", target("contact", contact.id.as_str()), |e| e).await;
    Ok(json_response(StatusCode::OK, &detail(deps, principal, contact).await?))
}

/// `PATCH /v1/contacts/{contact_id}` (rectification, P61).
///
/// # Errors
/// 404 as for reads; 400 for a bad field; 409 for an email another contact has.
pub async fn update<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: UpdateContactBody = json_body(ctx.body)?;
    let contact = visible_contact(&ctx, deps).await?;
    let patch = ContactPatch {
        name: body
            .name
            .map(|n| n.as_deref().map(contact_name).transpose())
            .transpose()
            .map_err(|e| bad(format!("name: {e}")))?,
        email: body
            .email
            .map(|e| e.as_deref().map(email).transpose())
            .transpose()
            .map_err(|e| bad(format!("email: {e}")))?,
        tags: body.tags.map(tags).transpose().map_err(|e| bad(format!("tags: {e}")))?,
        attributes: body
            .attributes
            .map(attributes)
            .transpose()
            .map_err(|e| bad(format!("attributes: {e}")))?,
    };
    let restriction = body
        .restricted
        .filter(|restricted| *restricted != contact.restricted_at.is_some())
        .map(|restricted| if restricted { ConsentKind::Restrict } else { ConsentKind::LiftRestriction });
    let fields: Vec<&str> = [
        ("name", patch.name.is_some()),
        ("email", patch.email.is_some()),
        ("tags", patch.tags.is_some()),
        ("attributes", patch.attributes.is_some()),
        ("restricted", restriction.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    let now = deps.clock.now();
    let mut updated = deps
        .contacts
        .update_contact(&principal.tenant_id, &contact.id, &patch, now)
        .await?
        .ok_or_else(|| ApiError::from(Problem::not_found("no such contact")))?;
    if let Some(kind) = restriction {
        let profile = ContactProfile {
            phone: contact.phone.as_deref().and_then(|p| PhoneNumber::parse(p).ok()),
            user_id: contact.user_id.clone(),
            email: contact.email.clone(),
            ..ContactProfile::default()
        };
        let cause = format!("api:{}", shared::domain::new_ulid(now)?);
        record_consent(deps, principal, &profile, kind, consent_source(principal), &cause).await?;
        updated = deps.contacts.contact(&principal.tenant_id, &contact.id).await?.unwrap_or(updated);
    }
    let activity = Activity {
        at: now.as_millis(),
        kind: "contact.updated".to_owned(),
        ref_id: None,
        detail: Some(fields.join(",")),
        actor: actor_of(principal),
    };
    deps.records.add_activity(&principal.tenant_id, &contact.id, &activity).await?;
    deps.audit(principal, "contact.update", target("contact", contact.id.as_str()), |e| {
        e.with_fields(fields)
    })
    .await;
    Ok(json_response(StatusCode::OK, &detail(deps, principal, updated).await?))
}

/// Erasure passes one delete may take (each removes up to [`ERASE_BUDGET`] items).
pub(super) const ERASE_PASSES: usize = 40;

/// Items per erasure pass.
pub(super) const ERASE_BUDGET: u32 = 500;

/// `DELETE /v1/contacts/{contact_id}`: everything about the contact, now.
///
/// # Errors
/// 404 as for reads; 503 when a very large contact needs more than one request (call again).
pub async fn delete<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let contact = visible_contact(&ctx, deps).await?;
    // P52: the contact center's events lose the ids of the conversations about to go.
    shared::app::analytics::anonymize_contact(
        &deps.conversations,
        &deps.events,
        &principal.tenant_id,
        &contact.id,
        deps.clock.now(),
    )
    .await
    .map_err(anyhow::Error::new)?;
    let mut total = ErasureCounts::default();
    for _ in 0..ERASE_PASSES {
        let counts = deps.lifecycle.erase_contact(&principal.tenant_id, &contact.id, ERASE_BUDGET).await?;
        total.add(&counts);
        if counts.contacts > 0 {
            deps.audit(principal, "contact.delete", target("contact", contact.id.as_str()), |e| {
                e.with_count(total.total())
            })
            .await;
            return Ok(json_response(StatusCode::OK, &total));
        }
    }
    deps.audit(principal, "contact.delete_partial", target("contact", contact.id.as_str()), |e| {
        e.with_count(total.total())
    })
    .await;
    Err(Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "try-again",
        "Not finished",
        "the contact has more data than one request deletes; call again",
    )
    .with_retry_after(1)
    .into())
}
