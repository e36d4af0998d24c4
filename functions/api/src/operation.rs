//! The types of the operation table (`routes::OPERATIONS`): what an operation is, who may
//! call it, what it takes and answers. The router and the OpenAPI document both read them, so
//! neither needs the other.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use shared::domain::tenant::Role;

/// Makes a schema (a `$ref` into the document's components) for a type.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, as a [`SchemaFn`].
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (login, refresh, the document itself).
    Public,
    /// The platform operator.
    Operator,
    /// A tenant credential with at least this role.
    Tenant(Role),
    /// A person logged in (not an API key), any role.
    User,
}

/// What an operation takes as its body.
#[derive(Debug, Clone, Copy)]
pub enum BodySpec {
    /// Nothing.
    None,
    /// JSON of this schema.
    Json(SchemaFn),
    /// `text/csv`.
    Csv,
    /// A raw file, its MIME type in `Content-Type` (media uploads).
    Binary,
}

impl BodySpec {
    /// True for CSV bodies (their size cap is larger).
    #[must_use]
    pub const fn is_csv(&self) -> bool {
        matches!(self, Self::Csv)
    }

    /// The largest body the operation takes.
    #[must_use]
    pub const fn max_bytes(&self) -> usize {
        match self {
            Self::Csv => crate::MAX_IMPORT_BYTES,
            Self::Binary => MAX_RELAY_BYTES,
            Self::None | Self::Json(_) => crate::MAX_BODY_BYTES,
        }
    }
}

/// The most the API relays in one media upload or download: Lambda's 6 MB synchronous payload
/// holds about 4.5 MB once base64-encoded, less the event's own fields.
pub const MAX_RELAY_BYTES: usize = 4 * 1024 * 1024;

/// A success answer.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The JSON body's schema (`None`: no body).
    pub schema: Option<SchemaFn>,
    /// Also answers `text/csv` (with `format=csv`).
    pub csv: bool,
}

/// How a query parameter is checked and documented.
#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    /// Free text up to this many characters.
    Text(u32),
    /// Page size, 1 to this.
    Limit(u16),
    /// An opaque cursor from a previous page.
    Cursor,
    /// E.164 digits.
    Phone,
    /// An email address.
    Email,
    /// Epoch milliseconds.
    Millis,
    /// One of these values.
    OneOf(&'static [&'static str]),
}

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub struct QueryParam {
    /// Its name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Its type.
    pub kind: ParamKind,
}

/// One operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// What runs.
    pub op: Op,
    /// HTTP method.
    pub method: &'static str,
    /// Path, with `{name}` parameters.
    pub path: &'static str,
    /// One line for the document.
    pub summary: &'static str,
    /// The document's grouping.
    pub tag: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Query parameters.
    pub query: &'static [QueryParam],
    /// The body.
    pub body: BodySpec,
    /// Success answers.
    pub answers: &'static [Answer],
    /// Error statuses beyond the ones every operation may answer.
    pub extra_errors: &'static [u16],
}

impl Operation {
    /// `METHOD /path`, for logs.
    #[must_use]
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Every operation's handler.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    GetOpenApi,
    SetPresence,
    ListAgents,
    SetCapacity,
    TakeNextConversation,
    Login,
    RefreshSession,
    Logout,
    AcceptInvitation,
    CreateTenant,
    ReopenTenant,
    SetPlan,
    GetTenant,
    UpdateTenant,
    CloseTenant,
    GetUsage,
    ListTenants,
    ShowTenant,
    GetTenantUsage,
    CloseTenantAsOperator,
    GetMe,
    ChangePassword,
    ListUsers,
    CreateUser,
    GetUser,
    UpdateUser,
    DeleteUser,
    RevokeSessions,
    ListApiKeys,
    CreateApiKey,
    RevokeApiKey,
    GetWhatsAppConnection,
    ConnectWhatsApp,
    DisconnectWhatsApp,
    GetLeadAdsConnection,
    ConnectLeadAds,
    DisconnectLeadAds,
    ListContacts,
    CreateContact,
    ImportContacts,
    GetImportJob,
    GetContact,
    UpdateContact,
    DeleteContact,
    GetTimeline,
    ListRecords(shared::domain::crm::RecordKind),
    CreateRecord(shared::domain::crm::RecordKind),
    UpdateRecord(shared::domain::crm::RecordKind),
    DeleteRecord(shared::domain::crm::RecordKind),
    ListLeads,
    CreateLead,
    GetLead,
    UpdateLead,
    ListConversations,
    GetConversation,
    UpdateConversation,
    ListConversationMessages,
    ListAudit,
    RequestSuggestions,
    GetSuggestions,
    GetAiConnection,
    ConnectAi,
    DisconnectAi,
    GetRetention,
    SetRetention,
    ExportPerson,
    ExportTenant,
    RequestErasure,
    GetErasure,
    SendMessage,
    GetMessage,
    ListTemplates,
    SyncTemplates,
    GetQuality,
    ListQueues,
    CreateQueue,
    GetQueue,
    UpdateQueue,
    DeleteQueue,
    GetConversationAnalytics,
    ListCannedResponses,
    CreateCannedResponse,
    UpdateCannedResponse,
    DeleteCannedResponse,
    RenderCannedResponse,
    ListConversationNotes,
    CreateConversationNote,
    MarkConversationRead,
    ListInbox,
    DownloadMedia,
    UploadMedia,
    ListFlows,
    CreateFlow,
    GetFlow,
    UpdateFlow,
    DeleteFlow,
    ValidateFlow,
    PublishFlow,
    RollbackFlow,
    SimulateFlow,
}

/// The API name of a role.
#[must_use]
pub const fn role_name(role: Role) -> &'static str {
    match role {
        Role::Agent => "agent",
        Role::Manager => "manager",
        Role::Admin => "admin",
    }
}
