//! Every operation of the API in one table ([`OPERATIONS`]): the router, the access check and
//! the OpenAPI document all read it.

pub mod agent;
pub mod ai;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod canned;
pub mod center;
pub mod contacts;
pub mod csv;
pub mod export;
pub mod flows;
pub mod identity;
pub mod inbox;
pub mod leadads;
pub mod leads;
pub mod media;
pub mod messages;
pub mod privacy;
pub mod queues;
pub mod session;
pub mod settings;
pub mod templates;
pub mod tenants;
pub mod whatsapp;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::de::DeserializeOwned;
use shared::domain::privacy::Integration;
use shared::domain::tenant::Role;
use shared::lambda::http::Problem;

use crate::auth::Principal;
use crate::errors::ApiError;
use crate::operation::{
    role_name, schema, Access, Answer, BodySpec, Op, Operation, ParamKind, QueryParam, SchemaFn,
};
use crate::{Adapters, Ctx, Deps};

const fn ok(schema: SchemaFn) -> Answer {
    Answer { status: 200, schema: Some(schema), csv: false }
}

const fn created(schema: SchemaFn) -> Answer {
    Answer { status: 201, schema: Some(schema), csv: false }
}

const NO_CONTENT: Answer = Answer { status: 204, schema: None, csv: false };

const fn q(name: &'static str, description: &'static str, kind: ParamKind) -> QueryParam {
    QueryParam { name, description, kind }
}

const LIMIT: QueryParam = q("limit", "Page size (1 to 100, default 50).", ParamKind::Limit(inbox::MAX_LIMIT));
const CURSOR: QueryParam = q("cursor", "The `next` of the previous page.", ParamKind::Cursor);
const PAGED: &[QueryParam] = &[LIMIT, CURSOR];

const fn op(
    op: Op,
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    access: Access,
    summary: &'static str,
) -> Operation {
    Operation {
        op,
        method,
        path,
        summary,
        tag,
        access,
        query: &[],
        body: BodySpec::None,
        answers: &[],
        extra_errors: &[],
    }
}

macro_rules! operation {
    ($op:expr, $method:literal, $path:literal, $tag:literal, $access:expr, $summary:literal
     $(, query = $query:expr)? $(, body = $body:expr)? , answers = $answers:expr $(, extra = $extra:expr)?) => {{
        #[allow(unused_mut)]
        let mut operation = op($op, $method, $path, $tag, $access, $summary);
        $(operation.query = $query;)?
        $(operation.body = $body;)?
        operation.answers = $answers;
        $(operation.extra_errors = $extra;)?
        operation
    }};
}

use identity as id;

/// Every operation of the API.
pub static OPERATIONS: &[Operation] = {
    use shared::domain::crm::RecordKind::{Appointment, Note, Task};
    use Access::{Operator, Public, Tenant, User};
    use Role::{Admin, Agent, Manager};
    &[
    operation!(Op::GetOpenApi, "GET", "/v1/openapi.json", "meta", Public, "This document (OpenAPI 3.1).",
        answers = &[Answer { status: 200, schema: None, csv: false }]),
    // Sessions
    operation!(Op::Login, "POST", "/v1/auth/login", "auth", Public,
        "Log in with email and password: a 15-minute access token and a rotating refresh token. At most 5 attempts per email per 15 minutes (429 login-throttled with Retry-After), and calls without a credential are limited per source address (429 rate-limited).",
        body = BodySpec::Json(schema::<id::LoginBody>), answers = &[ok(schema::<id::Tokens>)]),
    operation!(Op::RefreshSession, "POST", "/v1/auth/refresh", "auth", Public,
        "Trade a refresh token for new tokens (the old refresh token stops working; reusing it revokes the session).",
        body = BodySpec::Json(schema::<session::RefreshBody>), answers = &[ok(schema::<id::Tokens>)]),
    operation!(Op::Logout, "POST", "/v1/auth/logout", "auth", Public, "Revoke the session of a refresh token, and with it every access token issued in it.",
        body = BodySpec::Json(schema::<session::RefreshBody>), answers = &[NO_CONTENT]),
    operation!(Op::AcceptInvitation, "POST", "/v1/auth/invitations/accept", "auth", Public,
        "Accept an invitation: set the password and log in.",
        body = BodySpec::Json(schema::<id::AcceptInvitationBody>), answers = &[ok(schema::<id::Tokens>)]),
    // Tenants
    operation!(Op::CreateTenant, "POST", "/v1/tenants", "tenants", Operator,
        "Create a tenant and its first admin API key (shown once).",
        body = BodySpec::Json(schema::<tenants::CreateTenant>), answers = &[created(schema::<tenants::TenantCreated>)]),
    operation!(Op::ReopenTenant, "POST", "/v1/tenants/{tenant_id}/reopen", "tenants", Operator,
        "Reopen a closed tenant within its grace period.", answers = &[ok(schema::<tenants::TenantView>)], extra = &[410]),
    operation!(Op::SetPlan, "PUT", "/v1/tenants/{tenant_id}/plan", "tenants", Operator, "Set a tenant's plan limits.",
        body = BodySpec::Json(schema::<shared::domain::tenant::Plan>), answers = &[ok(schema::<tenants::TenantView>)]),
    operation!(Op::ListTenants, "GET", "/v1/tenants", "tenants", Operator,
        "Every tenant, closed ones included, oldest first.",
        query = PAGED, answers = &[ok(schema::<inbox::PageView<tenants::TenantView>>)]),
    operation!(Op::ShowTenant, "GET", "/v1/tenants/{tenant_id}", "tenants", Operator, "One tenant, as the operator sees it.",
        answers = &[ok(schema::<tenants::TenantView>)]),
    operation!(Op::GetTenantUsage, "GET", "/v1/tenants/{tenant_id}/usage", "tenants", Operator,
        "A tenant's usage against its plan's limits.", answers = &[ok(schema::<tenants::UsageView>)]),
    operation!(Op::CloseTenantAsOperator, "POST", "/v1/tenants/{tenant_id}/close", "tenants", Operator,
        "Close a tenant as its own admins would (purged after the grace period unless reopened).",
        body = BodySpec::Json(schema::<tenants::CloseTenant>), answers = &[ok(schema::<tenants::TenantView>)], extra = &[409]),
    operation!(Op::GetTenant, "GET", "/v1/tenant", "tenants", Tenant(Agent), "The caller's tenant and its settings.",
        answers = &[ok(schema::<tenants::TenantView>)]),
    operation!(Op::UpdateTenant, "PATCH", "/v1/tenant", "tenants", Tenant(Admin), "Change the name or settings.",
        body = BodySpec::Json(schema::<tenants::UpdateTenant>), answers = &[ok(schema::<tenants::TenantView>)]),
    operation!(Op::CloseTenant, "POST", "/v1/tenant/close", "tenants", Tenant(Admin),
        "Close the tenant: every credential stops working; the operator can reopen it within the grace period.",
        body = BodySpec::Json(schema::<tenants::CloseTenant>), answers = &[ok(schema::<tenants::TenantView>)]),
    operation!(Op::GetUsage, "GET", "/v1/usage", "tenants", Tenant(Manager), "Usage against the plan's limits.",
        answers = &[ok(schema::<tenants::UsageView>)]),
    // Users
    operation!(Op::GetMe, "GET", "/v1/me", "users", User, "The logged-in user.", answers = &[ok(schema::<shared::domain::identity::UserView>)]),
    operation!(Op::ChangePassword, "PUT", "/v1/me/password", "users", User,
        "Change the password; every session and token of the user is revoked.",
        body = BodySpec::Json(schema::<id::ChangePasswordBody>), answers = &[NO_CONTENT]),
    operation!(Op::ListUsers, "GET", "/v1/users", "users", Tenant(Admin), "The tenant's users.",
        query = PAGED, answers = &[ok(schema::<inbox::PageView<shared::domain::identity::UserView>>)]),
    operation!(Op::CreateUser, "POST", "/v1/users", "users", Tenant(Admin),
        "Create a user with a password, or invite one (the invitation token is shown once).",
        body = BodySpec::Json(schema::<id::CreateUserBody>), answers = &[created(schema::<id::UserCreated>)]),
    operation!(Op::GetUser, "GET", "/v1/users/{user_id}", "users", Tenant(Admin), "One user.",
        answers = &[ok(schema::<shared::domain::identity::UserView>)]),
    operation!(Op::UpdateUser, "PATCH", "/v1/users/{user_id}", "users", Tenant(Admin), "Change a user's name, role, queues or status.",
        body = BodySpec::Json(schema::<id::UpdateUserBody>), answers = &[ok(schema::<shared::domain::identity::UserView>)]),
    operation!(Op::DeleteUser, "DELETE", "/v1/users/{user_id}", "users", Tenant(Admin),
        "Delete a user: logged out everywhere; audit entries keep its id.", answers = &[NO_CONTENT]),
    operation!(Op::RevokeSessions, "POST", "/v1/users/{user_id}/revoke-sessions", "users", Tenant(Admin),
        "Revoke every session and access token of a user.", answers = &[NO_CONTENT]),
    operation!(Op::ListApiKeys, "GET", "/v1/api-keys", "users", Tenant(Admin), "The tenant's API keys (never their secrets).",
        answers = &[ok(schema::<id::ApiKeyList>)]),
    operation!(Op::CreateApiKey, "POST", "/v1/api-keys", "users", Tenant(Admin), "Create an API key (shown once).",
        body = BodySpec::Json(schema::<id::CreateApiKeyBody>), answers = &[created(schema::<id::ApiKeyCreated>)]),
    operation!(Op::RevokeApiKey, "DELETE", "/v1/api-keys/{key_id}", "users", Tenant(Admin), "Revoke an API key.",
        answers = &[NO_CONTENT]),
    // Integrations
    operation!(Op::GetWhatsAppConnection, "GET", "/v1/whatsapp", "integrations", Tenant(Admin), "The connected WhatsApp number.",
        answers = &[ok(schema::<whatsapp::ConnectionView>)]),
    operation!(Op::ConnectWhatsApp, "PUT", "/v1/whatsapp", "integrations", Tenant(Admin),
        "Connect a WhatsApp number, once Graph confirms with the token given that the number is the WABA's (422 names the failed check: token-rejected, number-not-found, waba-not-found, number-not-in-waba, display-number-mismatch); the token is stored encrypted, never returned.",
        body = BodySpec::Json(schema::<whatsapp::ConnectWhatsApp>), answers = &[ok(schema::<whatsapp::ConnectionView>)],
        extra = &[422, 502, 503]),
    operation!(Op::DisconnectWhatsApp, "DELETE", "/v1/whatsapp", "integrations", Tenant(Admin),
        "Disconnect the number: collection stops at once.", answers = &[NO_CONTENT]),
    operation!(Op::GetLeadAdsConnection, "GET", "/v1/leadads", "integrations", Tenant(Admin), "The connected Lead Ads Page.",
        answers = &[ok(schema::<leadads::LeadAdsPageView>)]),
    operation!(Op::ConnectLeadAds, "PUT", "/v1/leadads", "integrations", Tenant(Admin),
        "Connect a Facebook Page for Lead Ads, once Graph confirms the token is this Page's (422 names the failed check: token-rejected, page-token-mismatch); the token is stored encrypted.",
        body = BodySpec::Json(schema::<leadads::ConnectPage>), answers = &[ok(schema::<leadads::LeadAdsPageView>)],
        extra = &[422, 502, 503]),
    operation!(Op::DisconnectLeadAds, "DELETE", "/v1/leadads", "integrations", Tenant(Admin), "Disconnect the Page.",
        answers = &[NO_CONTENT]),
    // Contacts
    operation!(Op::ListContacts, "GET", "/v1/contacts", "contacts", Tenant(Manager),
        "Contacts, or the one with a phone number or email (with its consent ledger and leads).",
        query = &[q("phone", "E.164 digits (`+`, spaces and dashes are ignored).", ParamKind::Phone),
                  q("email", "An email address.", ParamKind::Email),
                  q("tag", "Only contacts with this tag.", ParamKind::Text(64)), LIMIT, CURSOR],
        answers = &[ok(schema::<inbox::PageView<contacts::ContactDetail>>)]),
    operation!(Op::CreateContact, "POST", "/v1/contacts", "contacts", Tenant(Manager),
        "Create a contact (201), or find the one the phone or email already identifies (200).",
        body = BodySpec::Json(schema::<contacts::CreateContactBody>),
        answers = &[created(schema::<contacts::ContactDetail>), ok(schema::<contacts::ContactDetail>)],
        extra = &[422]),
    operation!(Op::ImportContacts, "POST", "/v1/contacts/import", "contacts", Tenant(Manager),
        "Import a CSV contact list as a job (columns phone, email, name, tags, consent, attr.<name>; `,` or `;` separated; at most 50,000 rows and 5 MB): the whole file is checked first and nothing is written unless every row is valid (422 lists the refused rows); 202 with the job, written in the background; one import per tenant at a time (409); importing again changes nothing.",
        query = &[q("source", "Where the list comes from (recorded with each consent event).", ParamKind::Text(64))],
        body = BodySpec::Csv, answers = &[Answer { status: 202, schema: Some(schema::<contacts::ImportAccepted>), csv: false }],
        extra = &[422]),
    operation!(Op::GetImportJob, "GET", "/v1/imports/{import_id}", "contacts", Tenant(Manager),
        "A contact import job: status, progress, counts and the rows refused while writing.",
        answers = &[ok(schema::<shared::domain::import::ImportJob>)]),
    operation!(Op::GetContact, "GET", "/v1/contacts/{contact_id}", "contacts", Tenant(Agent), "One contact, its consent ledger and leads.",
        answers = &[ok(schema::<contacts::ContactDetail>)]),
    operation!(Op::UpdateContact, "PATCH", "/v1/contacts/{contact_id}", "contacts", Tenant(Manager),
        "Correct a contact's name, email, tags or attributes (audited).",
        body = BodySpec::Json(schema::<contacts::UpdateContactBody>), answers = &[ok(schema::<contacts::ContactDetail>)],
        extra = &[422]),
    operation!(Op::DeleteContact, "DELETE", "/v1/contacts/{contact_id}", "contacts", Tenant(Admin),
        "Delete a contact and everything about it.", answers = &[ok(schema::<shared::domain::privacy::ErasureCounts>)]),
    operation!(Op::GetTimeline, "GET", "/v1/contacts/{contact_id}/timeline", "contacts", Tenant(Agent),
        "The contact's activity, newest first: messages, notes, tasks, appointments, status changes (for an agent, the messages and state changes of their own conversations only).",
        query = &[q("before", "Only activity before this time (epoch ms).", ParamKind::Millis), LIMIT, CURSOR],
        answers = &[ok(schema::<contacts::TimelinePage>)]),
    operation!(Op::ListRecords(Note), "GET", "/v1/contacts/{contact_id}/notes", "records", Tenant(Agent), "The contact's notes.",
        query = PAGED, answers = &[ok(schema::<inbox::PageView<shared::domain::crm::ContactRecord>>)]),
    operation!(Op::CreateRecord(Note), "POST", "/v1/contacts/{contact_id}/notes", "records", Tenant(Agent), "Add a note.",
        body = BodySpec::Json(schema::<contacts::RecordBody>), answers = &[created(schema::<shared::domain::crm::ContactRecord>)]),
    operation!(Op::UpdateRecord(Note), "PATCH", "/v1/contacts/{contact_id}/notes/{record_id}", "records", Tenant(Agent), "Change a note.",
        body = BodySpec::Json(schema::<contacts::RecordPatch>), answers = &[ok(schema::<shared::domain::crm::ContactRecord>)]),
    operation!(Op::DeleteRecord(Note), "DELETE", "/v1/contacts/{contact_id}/notes/{record_id}", "records", Tenant(Agent), "Delete a note.",
        answers = &[NO_CONTENT]),
    operation!(Op::ListRecords(Task), "GET", "/v1/contacts/{contact_id}/tasks", "records", Tenant(Agent), "The contact's tasks.",
        query = PAGED, answers = &[ok(schema::<inbox::PageView<shared::domain::crm::ContactRecord>>)]),
    operation!(Op::CreateRecord(Task), "POST", "/v1/contacts/{contact_id}/tasks", "records", Tenant(Agent), "Add a task.",
        body = BodySpec::Json(schema::<contacts::RecordBody>), answers = &[created(schema::<shared::domain::crm::ContactRecord>)]),
    operation!(Op::UpdateRecord(Task), "PATCH", "/v1/contacts/{contact_id}/tasks/{record_id}", "records", Tenant(Agent),
        "Change a task (`done: true` completes it).",
        body = BodySpec::Json(schema::<contacts::RecordPatch>), answers = &[ok(schema::<shared::domain::crm::ContactRecord>)]),
    operation!(Op::DeleteRecord(Task), "DELETE", "/v1/contacts/{contact_id}/tasks/{record_id}", "records", Tenant(Agent), "Delete a task.",
        answers = &[NO_CONTENT]),
    operation!(Op::ListRecords(Appointment), "GET", "/v1/contacts/{contact_id}/appointments", "records", Tenant(Agent),
        "The contact's appointments.",
        query = PAGED, answers = &[ok(schema::<inbox::PageView<shared::domain::crm::ContactRecord>>)]),
    operation!(Op::CreateRecord(Appointment), "POST", "/v1/contacts/{contact_id}/appointments", "records", Tenant(Agent),
        "Add an appointment.",
        body = BodySpec::Json(schema::<contacts::RecordBody>), answers = &[created(schema::<shared::domain::crm::ContactRecord>)]),
    operation!(Op::UpdateRecord(Appointment), "PATCH", "/v1/contacts/{contact_id}/appointments/{record_id}", "records",
        Tenant(Agent), "Change an appointment.",
        body = BodySpec::Json(schema::<contacts::RecordPatch>), answers = &[ok(schema::<shared::domain::crm::ContactRecord>)]),
    operation!(Op::DeleteRecord(Appointment), "DELETE", "/v1/contacts/{contact_id}/appointments/{record_id}", "records",
        Tenant(Agent), "Delete an appointment.", answers = &[NO_CONTENT]),
    // Leads
    operation!(Op::ListLeads, "GET", "/v1/leads", "leads", Tenant(Manager), "Leads, newest stage first filtered.",
        query = &[q("stage", "Only in this stage.", ParamKind::OneOf(&["new", "contacted", "qualified", "won", "lost"])),
                  q("owner", "Only owned by this user id.", ParamKind::Text(64)),
                  q("contact_id", "Only this contact's.", ParamKind::Text(64)), LIMIT, CURSOR],
        answers = &[ok(schema::<inbox::PageView<shared::domain::inbox::LeadView>>)]),
    operation!(Op::CreateLead, "POST", "/v1/leads", "leads", Tenant(Manager), "Enter a lead by hand.",
        body = BodySpec::Json(schema::<leads::CreateLeadBody>), answers = &[created(schema::<shared::domain::inbox::LeadView>)]),
    operation!(Op::GetLead, "GET", "/v1/leads/{lead_id}", "leads", Tenant(Manager), "One lead.",
        answers = &[ok(schema::<shared::domain::inbox::LeadView>)]),
    operation!(Op::UpdateLead, "PATCH", "/v1/leads/{lead_id}", "leads", Tenant(Manager), "Move a lead's stage, owner or origin (audited).",
        body = BodySpec::Json(schema::<leads::UpdateLeadBody>), answers = &[ok(schema::<shared::domain::inbox::LeadView>)]),
    // Conversations
    operation!(Op::ListConversations, "GET", "/v1/conversations", "conversations", Tenant(Agent),
        "Conversations (agents: theirs and their queues').",
        query = &[q("phone", "Only with this contact (E.164 digits).", ParamKind::Phone),
                  q("state", "Only in this state.", ParamKind::OneOf(&shared::domain::inbox::ConversationState::NAMES)),
                  q("assignee", "Only assigned to this user id.", ParamKind::Text(64)),
                  q("queue", "Only in this queue.", ParamKind::Text(64)),
                  q("updated_since", "Only changed at or after (epoch ms).", ParamKind::Millis), LIMIT, CURSOR],
        answers = &[ok(schema::<inbox::PageView<shared::domain::inbox::ConversationView>>)]),
    operation!(Op::GetConversation, "GET", "/v1/conversations/{conversation_id}", "conversations", Tenant(Agent),
        "One conversation, with its 24-hour customer-service window (`window`) and, while the window is closed, the tenant's approved templates (`templates`).",
        answers = &[ok(schema::<agent::ConversationDetail>)]),
    operation!(Op::UpdateConversation, "PATCH", "/v1/conversations/{conversation_id}", "conversations", Tenant(Agent),
        "Change the state (agents and up), assignee or queue (managers and up). Only moves the state machine allows \
         (bot → queued, open or resolved; queued → open or resolved; open ↔ pending; open or pending → queued or resolved; \
         resolved → open or queued; staying is always allowed) answer 200; any other answers 409 \
         (problem type `illegal-transition`). With `version` (or `If-Match`) the change applies only if the conversation \
         is still at that version, else 409 (`version-conflict`): of concurrent changes exactly one wins; every change \
         bumps the version.",
        body = BodySpec::Json(schema::<inbox::UpdateConversationBody>), answers = &[ok(schema::<shared::domain::inbox::ConversationView>)]),
    operation!(Op::SetPresence, "PUT", "/v1/me/presence", "contact center", User,
        "Set your presence: only `online` agents are assigned conversations; coming online assigns what waits in your queues at once. Logging out sets `offline`.",
        body = BodySpec::Json(schema::<center::PresenceBody>), answers = &[ok(schema::<shared::domain::center::AgentStatus>)]),
    operation!(Op::TakeNextConversation, "POST", "/v1/me/conversations/next", "contact center", User,
        "Take the oldest conversation waiting in your queues (within your capacity): 200 with it, 204 when none waits or you are at capacity.",
        answers = &[ok(schema::<shared::domain::inbox::ConversationView>), NO_CONTENT]),
    operation!(Op::ListAgents, "GET", "/v1/agents", "contact center", Tenant(Manager),
        "Who works: every active user with presence, capacity and load (open conversations), online ones first.",
        answers = &[ok(schema::<center::AgentList>)]),
    operation!(Op::SetCapacity, "PUT", "/v1/agents/{user_id}/capacity", "contact center", Tenant(Manager),
        "Set how many open conversations an agent holds at most (1 to 100; default 10). Raising it assigns what waits at once.",
        body = BodySpec::Json(schema::<center::CapacityBody>), answers = &[ok(schema::<shared::domain::center::AgentStatus>)]),
    operation!(Op::ListConversationMessages, "GET", "/v1/conversations/{conversation_id}/messages", "conversations", Tenant(Agent),
        "A conversation's messages, oldest first.",
        query = PAGED, answers = &[ok(schema::<inbox::PageView<shared::domain::inbox::MessageView>>)]),
    operation!(Op::RequestSuggestions, "POST", "/v1/conversations/{conversation_id}/suggestions", "ai", Tenant(Agent),
        "Ask the tenant's AI provider for reply suggestions, a summary or the sentiment (only with AI on, a provider connected and the contact not restricted; identifiers are redacted first).",
        body = BodySpec::Json(schema::<ai::RequestSuggestion>), answers = &[Answer { status: 202, schema: Some(schema::<shared::domain::ai::SuggestionView>), csv: false }], extra = &[409, 503]),
    operation!(Op::GetSuggestions, "GET", "/v1/conversations/{conversation_id}/suggestions/{suggestion_id}", "ai", Tenant(Agent),
        "A suggestion request: pending, ready (with its replies, summary or sentiment), refused or failed (with why).",
        answers = &[ok(schema::<shared::domain::ai::SuggestionView>)]),
    operation!(Op::GetAiConnection, "GET", "/v1/ai", "ai", Tenant(Admin), "The tenant's AI provider (never its key).",
        answers = &[ok(schema::<ai::AiConnectionView>)]),
    operation!(Op::ConnectAi, "PUT", "/v1/ai", "ai", Tenant(Admin),
        "Connect one of the deployment's AI providers with the tenant's own key (stored encrypted). AI also needs ai_enabled in the settings.",
        body = BodySpec::Json(schema::<ai::ConnectAi>), answers = &[ok(schema::<ai::AiConnectionView>)]),
    operation!(Op::DisconnectAi, "DELETE", "/v1/ai", "ai", Tenant(Admin), "Disconnect the AI provider and delete its key.",
        answers = &[NO_CONTENT]),
    // Messages
    operation!(Op::SendMessage, "POST", "/v1/messages", "messages", Tenant(Agent),
        "Send a WhatsApp message in the Cloud API's shape (Idempotency-Key header required): checked, queued, sent once. \
         An agent messages only contacts of conversations they may see: any other number, known or not, answers 403 before any policy check.",
        body = BodySpec::Json(schema::<messages::OutboundMessage>),
        answers = &[Answer { status: 202, schema: Some(schema::<messages::Accepted>), csv: false }], extra = &[422, 503]),
    operation!(Op::GetMessage, "GET", "/v1/messages/{message_id}", "messages", Tenant(Agent),
        "An outbound message's status: queued, sent, delivered, read, failed or blocked (with why), or unknown: handed to Meta without an answer saying whether Meta took it (never sent again; its status webhook or, after a day, failed with outcome-unknown settles it).",
        answers = &[ok(schema::<messages::MessageStatusView>)]),
    operation!(Op::GetQuality, "GET", "/v1/quality", "messages", Tenant(Manager),
        "Sending quality of a month: accepted, sent, failed by code, blocked and refused by reason, opt-outs.",
        query = &[q("month", "The UTC month, yyyy-mm (default: this month).", ParamKind::Text(7))],
        answers = &[ok(schema::<messages::QualityView>)]),
    operation!(Op::ListTemplates, "GET", "/v1/templates", "messages", Tenant(Agent),
        "The message templates as last synced from Meta, with status and parameter counts.",
        answers = &[ok(schema::<templates::TemplateList>)]),
    operation!(Op::SyncTemplates, "POST", "/v1/templates/sync", "messages", Tenant(Manager),
        "Sync the templates from Meta (GET /<waba_id>/message_templates).",
        answers = &[ok(schema::<templates::TemplateList>)], extra = &[502, 503]),
    // Agent tools: canned responses, private notes, the agent's listings and read marks
    operation!(Op::ListCannedResponses, "GET", "/v1/canned-responses", "agent-tools", Tenant(Agent),
        "The tenant-wide canned responses and the caller's personal ones (API keys: tenant-wide only), by shortcut.",
        query = &[q("shortcut", "Only shortcuts starting with this.", ParamKind::Text(32))],
        answers = &[ok(schema::<canned::CannedList>)]),
    operation!(Op::CreateCannedResponse, "POST", "/v1/canned-responses", "agent-tools", Tenant(Agent),
        "Create a canned response: personal (the caller's), or tenant-wide (managers and admins). The shortcut is unique within its scope (409); an unknown placeholder answers 400 naming it.",
        body = BodySpec::Json(schema::<canned::CreateCannedBody>),
        answers = &[created(schema::<shared::domain::canned::CannedResponse>)]),
    operation!(Op::UpdateCannedResponse, "PATCH", "/v1/canned-responses/{canned_id}", "agent-tools", Tenant(Agent),
        "Change a canned response (personal: its owner; tenant-wide: managers and admins).",
        body = BodySpec::Json(schema::<canned::UpdateCannedBody>),
        answers = &[ok(schema::<shared::domain::canned::CannedResponse>)]),
    operation!(Op::DeleteCannedResponse, "DELETE", "/v1/canned-responses/{canned_id}", "agent-tools", Tenant(Agent),
        "Delete a canned response (personal: its owner; tenant-wide: managers and admins).", answers = &[NO_CONTENT]),
    operation!(Op::RenderCannedResponse, "POST", "/v1/canned-responses/{canned_id}/render", "agent-tools", Tenant(Agent),
        "A canned response's text with the placeholders filled for a conversation the caller may see: its contact's name and first name, the caller's name, the tenant's name.",
        body = BodySpec::Json(schema::<canned::RenderBody>), answers = &[ok(schema::<canned::Rendered>)]),
    operation!(Op::ListConversationNotes, "GET", "/v1/conversations/{conversation_id}/notes", "agent-tools", Tenant(Agent),
        "The private notes written on a conversation, oldest first (they are the contact's notes: erased and exported with them).",
        query = PAGED, answers = &[ok(schema::<inbox::PageView<shared::domain::crm::ContactRecord>>)]),
    operation!(Op::CreateConversationNote, "POST", "/v1/conversations/{conversation_id}/notes", "agent-tools", Tenant(Agent),
        "Write a private note on a conversation: the team reads it, the customer never gets it.",
        body = BodySpec::Json(schema::<agent::NoteBody>), answers = &[created(schema::<shared::domain::crm::ContactRecord>)]),
    operation!(Op::MarkConversationRead, "POST", "/v1/conversations/{conversation_id}/read", "agent-tools", User,
        "Mark a conversation read by the caller (its unread count drops to 0).", answers = &[NO_CONTENT]),
    operation!(Op::ListInbox, "GET", "/v1/inbox", "agent-tools", User,
        "The caller's listings: `mine` (assigned to them; open or pending unless `state` is given), `waiting` (queued in their queues) or `all` (managers and admins), filtered by state, queue, assignee and `updated_since` (the console's polling), the conversation that started first first, each with the contact's name, the last message's preview, the unread count, the seconds waited while queued and the window.",
        query = &[q("view", "`mine` (default), `waiting` or `all` (managers and admins).", ParamKind::OneOf(&["mine", "waiting", "all"])),
                  q("state", "Only in this state.", ParamKind::OneOf(&shared::domain::inbox::ConversationState::NAMES)),
                  q("queue", "Only in this queue.", ParamKind::Text(64)),
                  q("assignee", "Only assigned to this user id.", ParamKind::Text(64)),
                  q("updated_since", "Only changed at or after (epoch ms).", ParamKind::Millis), LIMIT, CURSOR],
        answers = &[ok(schema::<inbox::PageView<agent::InboxItem>>)]),
    // Media (docs/console-api.md)
    operation!(Op::DownloadMedia, "GET", "/v1/media/{media_id}", "media", Tenant(Agent),
        "An inbound message's media (the id in its payload), fetched from Graph with the tenant's token and answered with its content type: 404 for an unknown or expired id, 422 media-too-large over 4 MB (what one invocation carries).",
        answers = &[Answer { status: 200, schema: None, csv: false }], extra = &[409, 422, 503]),
    operation!(Op::UploadMedia, "POST", "/v1/media", "media", Tenant(Agent),
        "Upload a file to Graph for sending (the raw file as the body, its MIME type as Content-Type): 201 with the media id to send with. 415 for a type the Cloud API does not take; 413 over the kind's limit (image 5 MB, audio and video 16 MB, sticker 500 KB, document 100 MB) or over 4 MB; 422 when Meta refuses the file.",
        query = &[q("filename", "The file's name (documents show it).", ParamKind::Text(200))],
        body = BodySpec::Binary, answers = &[created(schema::<media::Uploaded>)], extra = &[409, 413, 415, 422, 503]),
    // Audit and privacy
    operation!(Op::ListAudit, "GET", "/v1/audit", "audit", Tenant(Admin), "The audit trail, newest first.",
        query = &[q("actor", "Only this user or API key id.", ParamKind::Text(64)),
                  q("action", "Only actions starting with this (`contact.` or `contact.update`).", ParamKind::Text(64)),
                  q("target", "Only about this record id.", ParamKind::Text(128)),
                  q("since", "At or after (epoch ms).", ParamKind::Millis),
                  q("until", "Before (epoch ms).", ParamKind::Millis), LIMIT, CURSOR],
        answers = &[ok(schema::<inbox::PageView<shared::domain::audit::AuditEntry>>)]),
    operation!(Op::GetRetention, "GET", "/v1/settings/retention", "privacy", Tenant(Admin), "Retention settings.",
        answers = &[ok(schema::<shared::domain::tenant::RetentionSettings>)]),
    operation!(Op::SetRetention, "PUT", "/v1/settings/retention", "privacy", Tenant(Admin),
        "Change retention settings (applied to existing data by the next retention run).",
        body = BodySpec::Json(schema::<settings::RetentionBody>), answers = &[ok(schema::<shared::domain::tenant::RetentionSettings>)]),
    operation!(Op::ExportPerson, "GET", "/v1/privacy/export", "privacy", Tenant(Admin),
        "Everything stored about one person (JSON, or CSV tables with `format=csv`): the contacts the identifier leads to with their consent ledger, leads, conversations, messages, AI suggestions, records and timeline, and the audit entries about their data. One answer when it fits; a long history comes in pages of at most ~2 MB (`next`: ask again with the same identifier and `cursor`), where a contact or conversation continued on the next page appears there again with the rest of its lists.",
        query = &[q("phone", "E.164 digits.", ParamKind::Phone), q("email", "An email address.", ParamKind::Email),
                  q("format", "`json` (default) or `csv`.", ParamKind::OneOf(&["json", "csv"])), CURSOR],
        answers = &[ok(schema::<privacy::PersonExport>)]),
    operation!(Op::ExportTenant, "GET", "/v1/privacy/export/tenant", "privacy", Tenant(Admin),
        "Every item of the tenant in bounded pages (secrets never included): its records, settings and connections (first page), users, contacts with everything linked to them, the audit trail.",
        query = &[q("format", "`json` (default) or `csv`.", ParamKind::OneOf(&["json", "csv"])), CURSOR],
        answers = &[ok(schema::<privacy::TenantExportPage>)]),
    operation!(Op::RequestErasure, "POST", "/v1/privacy/erasure", "privacy", Tenant(Admin),
        "Erase one person (done by the next retention run; a receipt follows).",
        body = BodySpec::Json(schema::<privacy::RequestErasure>), answers = &[Answer { status: 202, schema: Some(schema::<privacy::ErasureView>), csv: false }]),
    operation!(Op::GetErasure, "GET", "/v1/privacy/erasure/{erasure_id}", "privacy", Tenant(Admin), "An erasure request and its receipt.",
        answers = &[ok(schema::<privacy::ErasureView>)]),
    // Contact center
    operation!(Op::ListQueues, "GET", "/v1/queues", "contact-center", Tenant(Agent),
        "The tenant's queues (departments) by name, each with its members (the users whose queues name it).",
        answers = &[ok(schema::<queues::QueueList>)]),
    operation!(Op::CreateQueue, "POST", "/v1/queues", "contact-center", Tenant(Admin),
        "Create a queue: a name unique within the tenant (case-insensitively; 409 queue-name-taken), a strategy (round_robin or least_busy), a first-response target and its members (user ids; 400 names unknown ones, nothing written).",
        body = BodySpec::Json(schema::<queues::CreateQueueBody>), answers = &[created(schema::<queues::QueueView>)]),
    operation!(Op::GetQueue, "GET", "/v1/queues/{queue_id}", "contact-center", Tenant(Agent), "One queue and its members.",
        answers = &[ok(schema::<queues::QueueView>)]),
    operation!(Op::UpdateQueue, "PATCH", "/v1/queues/{queue_id}", "contact-center", Tenant(Admin),
        "Rename or configure a queue, or replace its members (null clears the first-response target); with `version`, 409 version-conflict unless the queue is still at it.",
        body = BodySpec::Json(schema::<queues::UpdateQueueBody>), answers = &[ok(schema::<queues::QueueView>)]),
    operation!(Op::DeleteQueue, "DELETE", "/v1/queues/{queue_id}", "contact-center", Tenant(Admin),
        "Delete a queue; its members stop working it. 409 (queue-not-empty) while conversations still wait in it: assign, transfer or resolve them first.",
        answers = &[NO_CONTENT], extra = &[409]),
    // Chatbot flows (P40)
    operation!(Op::ListFlows, "GET", "/v1/flows", "flows", Tenant(Agent), "The tenant's chatbot flows, oldest first.",
        answers = &[ok(schema::<flows::FlowList>)]),
    operation!(Op::CreateFlow, "POST", "/v1/flows", "flows", Tenant(Admin),
        "Create a flow from its definition (the body; see the FlowDefinition schema): version 1, not published. An invalid definition answers 422 invalid-flow listing every problem with its JSON pointer; nothing is written.",
        body = BodySpec::Json(schema::<shared::domain::flows::FlowDefinition>), answers = &[created(schema::<flows::FlowView>)], extra = &[422]),
    operation!(Op::GetFlow, "GET", "/v1/flows/{flow_id}", "flows", Tenant(Agent), "One flow, with its newest version's definition.",
        answers = &[ok(schema::<flows::FlowView>)]),
    operation!(Op::UpdateFlow, "PUT", "/v1/flows/{flow_id}", "flows", Tenant(Admin),
        "Save a new version of the flow (the body is the definition); the live version is unchanged. 422 invalid-flow as for creation.",
        body = BodySpec::Json(schema::<shared::domain::flows::FlowDefinition>), answers = &[ok(schema::<flows::FlowView>)], extra = &[422]),
    operation!(Op::DeleteFlow, "DELETE", "/v1/flows/{flow_id}", "flows", Tenant(Admin),
        "Delete a flow and its versions; conversations in it stop at their next message.", answers = &[NO_CONTENT]),
    operation!(Op::ValidateFlow, "POST", "/v1/flows/{flow_id}/validate", "flows", Tenant(Admin),
        "Check the newest version against the tenant now (its queues): every problem with its JSON pointer.",
        answers = &[ok(schema::<flows::FlowValidation>)]),
    operation!(Op::PublishFlow, "POST", "/v1/flows/{flow_id}/publish", "flows", Tenant(Admin),
        "Publish a version (default: the newest): new conversations start on it; conversations in the flow finish on the version they started. 422 invalid-flow when it no longer validates.",
        body = BodySpec::Json(schema::<flows::PublishBody>), answers = &[ok(schema::<flows::FlowView>)], extra = &[422]),
    operation!(Op::RollbackFlow, "POST", "/v1/flows/{flow_id}/rollback", "flows", Tenant(Admin),
        "Publish an earlier version (default: the one before the live one).",
        body = BodySpec::Json(schema::<flows::PublishBody>), answers = &[ok(schema::<flows::FlowView>)], extra = &[422]),
    operation!(Op::SimulateFlow, "POST", "/v1/flows/{flow_id}/simulate", "flows", Tenant(Admin),
        "Dry run: what the bot would send and store for a list of customer messages (the first starts the flow), for a new contact at the tenant's settings now. Sends and stores nothing.",
        body = BodySpec::Json(schema::<flows::SimulateBody>), answers = &[ok(schema::<flows::Simulation>)]),
    // Contact center analytics
    operation!(Op::GetConversationAnalytics, "GET", "/v1/analytics/conversations", "analytics", Tenant(Manager),
        "Contact center figures over [from, to), widened to whole UTC hours (the answer's from/to): conversations (cycles started: opened or reopened; with agent: assigned to the agent; with only queue: routed to the queue), resolved, first_response_seconds (cycle start to first agent reply), resolution_seconds (cycle start to resolution), waiting_seconds (queued to assigned), each {p50, p90} by nearest rank over the exact samples (null without samples), sla_breaches (first replies later than the queue's target), messages_received, agent_replies, by_hour (every hour) and by_day (every UTC day touched); waiting_line (null with agent): queue depth over time, of the queue or of all queues (a conversation enters a queue's line when queued there and leaves it when assigned, moved, resolved or deleted): depth_at_from, depth_at_to, max_depth (largest end-of-hour depth), entered, left, wait_seconds {p50, p90, avg, max} of those that left, and by_hour/by_day points {at, depth (at its end), max_depth, entered, left, wait_seconds}. Ranges up to 92 days.",
        query = &[q("from", "Start, epoch ms (required; floored to the hour).", ParamKind::Millis),
                  q("to", "End, epoch ms, exclusive (required; raised to the next hour).", ParamKind::Millis),
                  q("queue", "Only events of this queue.", ParamKind::Text(64)),
                  q("agent", "Only events of this agent (user id).", ParamKind::Text(64))],
        answers = &[ok(schema::<analytics::AnalyticsView>)]),
    ]
};

/// Splits a path pattern into segments.
fn pattern(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').skip(1)
}

/// The operation for a method and path, with its path parameters.
#[must_use]
pub fn find(method: &str, segments: &[&str]) -> Option<(&'static Operation, HashMap<&'static str, String>)> {
    OPERATIONS.iter().filter(|o| o.method == method).find_map(|operation| {
        let parts: Vec<&'static str> = pattern(operation.path).collect();
        if parts.len() != segments.len() {
            return None;
        }
        let mut params = HashMap::new();
        for (part, segment) in parts.iter().zip(segments) {
            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !segment.is_empty() => {
                    params.insert(name, (*segment).to_owned());
                }
                Some(_) => return None,
                None if part == segment => {}
                None => return None,
            }
        }
        Some((operation, params))
    })
}

/// True when some method serves this path (for 405 rather than 404).
#[must_use]
pub fn known_path(segments: &[&str]) -> bool {
    !methods_of(segments).is_empty()
}

/// The methods that serve this path (`Allow` of a 405 and of a preflight), none when unknown.
#[must_use]
pub fn methods_of(segments: &[&str]) -> Vec<&'static str> {
    ["GET", "POST", "PUT", "PATCH", "DELETE"]
        .into_iter()
        .filter(|method| find(method, segments).is_some())
        .collect()
}

/// Refuses a caller the operation is not for (P14).
///
/// # Errors
/// 401 for an anonymous caller of a protected operation; 403 for the wrong kind of credential or
/// too small a role.
pub fn check_access(operation: &Operation, principal: &Principal) -> Result<(), ApiError> {
    let allowed = match (operation.access, principal) {
        (Access::Public, _) => return Ok(()),
        (_, Principal::Anonymous) => {
            return Err(Problem::unauthorized("send Authorization: Bearer <access token or API key>").into())
        }
        (Access::Operator, Principal::Operator) => true,
        (Access::Tenant(min), Principal::Tenant(tenant)) => tenant.role >= min,
        (Access::User, Principal::Tenant(tenant)) => tenant.user_id.is_some(),
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    let detail = match (operation.access, principal) {
        (Access::Operator, _) => "only the operator key may do this".to_owned(),
        (_, Principal::Operator) => "the operator key may only manage tenants".to_owned(),
        (Access::User, _) => "this route is for a logged-in user, not an API key".to_owned(),
        (Access::Tenant(role), _) => format!("this route needs the {} role or higher", role_name(role)),
        (Access::Public, _) => String::new(),
    };
    Err(Problem::forbidden(detail).into())
}

/// An operation's future, on the heap (one allocation per request). Awaited inline, the
/// hundred handlers' futures made `dispatch` one state machine as large as the largest of them,
/// every handler's code inlined into one 475 KB poll function; boxed, each handler's future is
/// its own and only as large as it needs (the binary 49 KB smaller).
fn on_heap<'a, T>(
    future: impl Future<Output = T> + Send + 'a,
) -> Pin<Box<dyn Future<Output = T> + Send + 'a>> {
    Box::pin(future)
}

/// Runs the operation.
///
/// # Errors
/// The problem to answer.
pub async fn dispatch<A: Adapters>(op: Op, ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    match op {
        Op::GetOpenApi => Ok(crate::openapi::response()),
        Op::SetPresence => on_heap(center::set_presence(ctx, deps)).await,
        Op::TakeNextConversation => on_heap(center::take_next(ctx, deps)).await,
        Op::ListAgents => on_heap(center::agents(ctx, deps)).await,
        Op::SetCapacity => on_heap(center::set_capacity(ctx, deps)).await,
        Op::Login => on_heap(identity::login(ctx, deps)).await,
        Op::RefreshSession => on_heap(session::refresh(ctx, deps)).await,
        Op::Logout => on_heap(session::logout(ctx, deps)).await,
        Op::AcceptInvitation => on_heap(identity::accept_invitation(ctx, deps)).await,
        Op::CreateTenant => on_heap(tenants::create(ctx, deps)).await,
        Op::ReopenTenant => on_heap(tenants::reopen(ctx, deps)).await,
        Op::SetPlan => on_heap(tenants::set_plan(ctx, deps)).await,
        Op::GetTenant => on_heap(tenants::get(ctx, deps)).await,
        Op::UpdateTenant => on_heap(tenants::update(ctx, deps)).await,
        Op::CloseTenant => on_heap(tenants::close(ctx, deps)).await,
        Op::GetUsage => on_heap(tenants::usage(ctx, deps)).await,
        Op::ListTenants => on_heap(tenants::list(ctx, deps)).await,
        Op::ShowTenant => on_heap(tenants::show(ctx, deps)).await,
        Op::GetTenantUsage => on_heap(tenants::operator_usage(ctx, deps)).await,
        Op::CloseTenantAsOperator => on_heap(tenants::operator_close(ctx, deps)).await,
        Op::GetMe => on_heap(identity::me(ctx, deps)).await,
        Op::ChangePassword => on_heap(identity::change_password(ctx, deps)).await,
        Op::ListUsers => on_heap(identity::list_users(ctx, deps)).await,
        Op::CreateUser => on_heap(identity::create_user(ctx, deps)).await,
        Op::GetUser => on_heap(identity::get_user(ctx, deps)).await,
        Op::UpdateUser => on_heap(identity::update_user(ctx, deps)).await,
        Op::DeleteUser => on_heap(identity::delete_user(ctx, deps)).await,
        Op::RevokeSessions => on_heap(identity::revoke_sessions(ctx, deps)).await,
        Op::ListApiKeys => on_heap(identity::list_api_keys(ctx, deps)).await,
        Op::CreateApiKey => on_heap(identity::create_api_key(ctx, deps)).await,
        Op::RevokeApiKey => on_heap(identity::revoke_api_key(ctx, deps)).await,
        Op::GetWhatsAppConnection => on_heap(whatsapp::get(ctx, deps)).await,
        Op::ConnectWhatsApp => on_heap(whatsapp::connect(ctx, deps)).await,
        Op::DisconnectWhatsApp => on_heap(disconnect(ctx, deps, Integration::WhatsApp)).await,
        Op::GetLeadAdsConnection => on_heap(leadads::get(ctx, deps)).await,
        Op::ConnectLeadAds => on_heap(leadads::connect(ctx, deps)).await,
        Op::DisconnectLeadAds => on_heap(disconnect(ctx, deps, Integration::LeadAds)).await,
        Op::ListContacts => on_heap(contacts::list(ctx, deps)).await,
        Op::CreateContact => on_heap(contacts::create(ctx, deps)).await,
        Op::ImportContacts => on_heap(contacts::import(ctx, deps)).await,
        Op::GetImportJob => on_heap(contacts::import_job(ctx, deps)).await,
        Op::GetContact => on_heap(contacts::get(ctx, deps)).await,
        Op::UpdateContact => on_heap(contacts::update(ctx, deps)).await,
        Op::DeleteContact => on_heap(contacts::delete(ctx, deps)).await,
        Op::GetTimeline => on_heap(contacts::timeline(ctx, deps)).await,
        Op::ListRecords(kind) => on_heap(contacts::list_records(kind, ctx, deps)).await,
        Op::CreateRecord(kind) => on_heap(contacts::create_record(kind, ctx, deps)).await,
        Op::UpdateRecord(kind) => on_heap(contacts::update_record(kind, ctx, deps)).await,
        Op::DeleteRecord(kind) => on_heap(contacts::delete_record(kind, ctx, deps)).await,
        Op::ListLeads => on_heap(leads::list(ctx, deps)).await,
        Op::CreateLead => on_heap(leads::create(ctx, deps)).await,
        Op::GetLead => on_heap(leads::get(ctx, deps)).await,
        Op::UpdateLead => on_heap(leads::update(ctx, deps)).await,
        Op::ListConversations => on_heap(inbox::conversations(ctx, deps)).await,
        Op::GetConversation => on_heap(agent::conversation(ctx, deps)).await,
        Op::UpdateConversation => on_heap(inbox::update_conversation(ctx, deps)).await,
        Op::ListConversationMessages => on_heap(inbox::messages(ctx, deps)).await,
        Op::ListAudit => on_heap(audit::list(ctx, deps)).await,
        Op::RequestSuggestions => on_heap(ai::request(ctx, deps)).await,
        Op::GetSuggestions => on_heap(ai::get_suggestion(ctx, deps)).await,
        Op::GetAiConnection => on_heap(ai::get(ctx, deps)).await,
        Op::ConnectAi => on_heap(ai::connect(ctx, deps)).await,
        Op::DisconnectAi => on_heap(ai::disconnect(ctx, deps)).await,
        Op::GetRetention => on_heap(settings::get(ctx, deps)).await,
        Op::SetRetention => on_heap(settings::put(ctx, deps)).await,
        Op::ExportPerson => on_heap(privacy::export(ctx, deps)).await,
        Op::ExportTenant => on_heap(privacy::tenant_export(ctx, deps)).await,
        Op::RequestErasure => on_heap(privacy::request_erasure(ctx, deps)).await,
        Op::GetErasure => on_heap(privacy::erasure(ctx, deps)).await,
        Op::SendMessage => on_heap(messages::send(ctx, deps)).await,
        Op::GetMessage => on_heap(messages::get(ctx, deps)).await,
        Op::ListTemplates => on_heap(templates::list(ctx, deps)).await,
        Op::SyncTemplates => on_heap(templates::sync(ctx, deps)).await,
        Op::GetQuality => on_heap(messages::quality(ctx, deps)).await,
        Op::ListQueues => on_heap(queues::list(ctx, deps)).await,
        Op::CreateQueue => on_heap(queues::create(ctx, deps)).await,
        Op::GetQueue => on_heap(queues::get(ctx, deps)).await,
        Op::UpdateQueue => on_heap(queues::update(ctx, deps)).await,
        Op::DeleteQueue => on_heap(queues::delete(ctx, deps)).await,
        Op::GetConversationAnalytics => on_heap(analytics::conversations(ctx, deps)).await,
        Op::ListCannedResponses => on_heap(canned::list(ctx, deps)).await,
        Op::CreateCannedResponse => on_heap(canned::create(ctx, deps)).await,
        Op::UpdateCannedResponse => on_heap(canned::update(ctx, deps)).await,
        Op::DeleteCannedResponse => on_heap(canned::delete(ctx, deps)).await,
        Op::RenderCannedResponse => on_heap(canned::render(ctx, deps)).await,
        Op::ListConversationNotes => on_heap(agent::notes(ctx, deps)).await,
        Op::CreateConversationNote => on_heap(agent::create_note(ctx, deps)).await,
        Op::MarkConversationRead => on_heap(agent::mark_read(ctx, deps)).await,
        Op::ListInbox => on_heap(agent::list(ctx, deps)).await,
        Op::DownloadMedia => on_heap(media::download(ctx, deps)).await,
        Op::UploadMedia => on_heap(media::upload(ctx, deps)).await,
        Op::ListFlows => on_heap(flows::list(ctx, deps)).await,
        Op::CreateFlow => on_heap(flows::create(ctx, deps)).await,
        Op::GetFlow => on_heap(flows::get(ctx, deps)).await,
        Op::UpdateFlow => on_heap(flows::update(ctx, deps)).await,
        Op::DeleteFlow => on_heap(flows::delete(ctx, deps)).await,
        Op::ValidateFlow => on_heap(flows::check(ctx, deps)).await,
        Op::PublishFlow => on_heap(flows::publish(ctx, deps, false)).await,
        Op::RollbackFlow => on_heap(flows::publish(ctx, deps, true)).await,
        Op::SimulateFlow => on_heap(flows::simulate(ctx, deps)).await,
    }
}

/// A Meta id (phone number id, WABA id, Page id): digits only.
///
/// # Errors
/// 400 naming the field.
pub fn meta_id(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if (1..=32).contains(&value.len()) && value.chars().all(|c| c.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err(Problem::bad_request(format!("{field} must be 1 to 32 digits (a Meta id)")).into())
    }
}

/// An access token as Meta issues them: 1 to 4096 characters without spaces.
///
/// # Errors
/// 400 naming the field.
pub fn validated_token<'a>(field: &str, token: &'a shared::domain::Secret) -> Result<&'a str, ApiError> {
    let token = token.expose().trim();
    if token.is_empty() || token.len() > 4096 || token.chars().any(char::is_whitespace) {
        return Err(
            Problem::bad_request(format!("{field} must be 1 to 4096 characters without spaces")).into()
        );
    }
    Ok(token)
}

/// 204.
#[must_use]
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Parses a JSON body; an empty body parses as `{}`.
///
/// # Errors
/// 400 naming what is wrong (field and position).
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    // serde's message names the field and may quote the client's own value back to it; the
    // body is never logged.
    serde_json::from_slice(body).map_err(|e| Problem::bad_request(format!("invalid JSON body: {e}")).into())
}

/// A path parameter that must be an id of type `T`; anything else is "not found" (a malformed
/// id names nothing, and a foreign one must look the same).
///
/// # Errors
/// 404 with `what`.
pub fn path_id<T>(
    raw: &str,
    parse: fn(String) -> Result<T, shared::domain::ids::InvalidId>,
    what: &str,
) -> Result<T, ApiError> {
    parse(raw.to_owned()).map_err(|_| ApiError::from(Problem::not_found(format!("no such {what}"))))
}

/// Reads a field that may be absent (leave alone) or null (clear): `Option<Option<T>>`.
///
/// # Errors
/// The field's own deserialization error.
pub fn nullable<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// `DELETE /v1/whatsapp` and `DELETE /v1/leadads`: routing stops at once, so nothing more is
/// collected through the integration, and what was received through it is deleted by the next
/// retention run unless the tenant's legal hold is on (P54). Audited as
/// `integration.<whatsapp|leadads>_disconnect` with what became of the data.
///
/// # Errors
/// 403 unless a tenant admin calls; 404 when not connected.
async fn disconnect<A: Adapters>(
    ctx: Ctx<'_>,
    deps: &Deps<A>,
    integration: Integration,
) -> Result<Response<Body>, ApiError> {
    let admin = ctx.tenant()?;
    let tenant = &admin.tenant_id;
    let disconnected = shared::app::integrations::disconnect(
        &deps.tenants,
        &deps.connections,
        &deps.purges,
        &deps.clock,
        tenant,
        integration,
    )
    .await?;
    let action = format!("integration.{}_disconnect", integration.as_str());
    deps.audit(admin, &action, crate::target("tenant", tenant.as_str()), |e| {
        e.with_fields([disconnected.data_field()])
    })
    .await;
    Ok(no_content())
}
