//! The server-rendered pages, one struct per template in `templates/pages/`. Askama escapes
//! every value for HTML.

use askama::Template;

use accounts_store::roles::Role;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

/// Renders a page; a template that fails to render is our bug, answered with a plain 500.
pub(crate) fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a page template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A page that says what happened and what to do next.
#[derive(Debug, Template)]
#[template(path = "pages/message.html")]
pub(crate) struct Message {
    pub title: String,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
}

impl Message {
    pub(crate) fn new(title: &str, paragraphs: &[&str]) -> Self {
        Self {
            title: title.to_owned(),
            paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
            link: None,
        }
    }

    pub(crate) fn with_link(mut self, href: &str, label: &str) -> Self {
        self.link = Some((href.to_owned(), label.to_owned()));
        self
    }
}

/// A "Continue with …" button of a configured identity provider.
pub(crate) struct ProviderButton {
    pub name: &'static str,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "pages/sign_in.html")]
pub(crate) struct SignIn<'a> {
    pub providers: Vec<ProviderButton>,
    pub csrf: &'a str,
    pub next: &'a str,
    pub email: &'a str,
    pub context: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "pages/forgot_password.html")]
pub(crate) struct ForgotPassword<'a> {
    pub csrf: &'a str,
    pub email: &'a str,
}

#[derive(Template)]
#[template(path = "pages/reset_password.html")]
pub(crate) struct ResetPassword<'a> {
    pub csrf: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    pub min_password: usize,
}

#[derive(Template)]
#[template(path = "pages/sign_up.html")]
pub(crate) struct SignUp<'a> {
    pub providers: Vec<ProviderButton>,
    pub csrf: &'a str,
    pub next: &'a str,
    pub email: &'a str,
    pub context: &'a str,
    pub error: Option<&'a str>,
    pub min_password: usize,
}

#[derive(Template)]
#[template(path = "pages/home.html")]
pub(crate) struct Home<'a> {
    pub csrf: &'a str,
    pub email: &'a str,
    pub dashboards_url: &'a str,
    pub organizations: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "pages/setup.html")]
pub(crate) struct Setup<'a> {
    pub providers: Vec<ProviderButton>,
    pub csrf: &'a str,
    pub here: &'a str,
    pub workspace: &'a str,
    /// The workspace's address, when its name does not already say it.
    pub site: Option<&'a str>,
    pub expires_at: &'a str,
    pub signed_in_as: Option<&'a str>,
    /// For a visitor not signed in: the address the link was mailed to (Jira's address for the
    /// installing admin), and whether MetaFrazo has an account for it.
    pub installer: Option<Installer<'a>>,
    /// The organization the workspace was linked to, when the viewer may reconnect it there.
    pub reconnect_to: Option<&'a str>,
    /// Organizations the viewer manages (id, name, preselected): the workspace may join one.
    pub connectable: Vec<(String, String, bool)>,
    /// The organization it was linked to, when the viewer may not.
    pub previously_linked_elsewhere: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// The installing admin as the setup page greets them.
pub(crate) struct Installer<'a> {
    pub email: &'a str,
    pub has_account: bool,
}

/// One option of a role menu.
pub(crate) struct RoleChoice {
    pub name: &'static str,
    pub selected: bool,
}

impl RoleChoice {
    /// The roles the caller may give, with `current` selected.
    pub(crate) fn menu(assignable: &[Role], current: Role) -> Vec<Self> {
        assignable
            .iter()
            .map(|role| Self {
                name: role.as_str(),
                selected: *role == current,
            })
            .collect()
    }
}

pub(crate) struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub choices: Vec<RoleChoice>,
    pub manageable: bool,
    pub is_you: bool,
}

pub(crate) struct InviteRow {
    pub id: String,
    pub email: String,
    pub role: String,
    pub expires_at: String,
}

pub(crate) struct WorkspaceRow {
    pub display_name: String,
    pub base_url: String,
    pub source: String,
    pub state: String,
}

#[derive(Template)]
#[template(path = "pages/organization.html")]
pub(crate) struct Organization<'a> {
    pub csrf: &'a str,
    pub id: String,
    pub name: &'a str,
    pub email: &'a str,
    pub role: &'a str,
    pub dashboards_url: &'a str,
    pub workspaces: Vec<WorkspaceRow>,
    pub members: Vec<MemberRow>,
    pub invites: Vec<InviteRow>,
    pub invite_choices: Vec<RoleChoice>,
    pub can_manage_members: bool,
    pub can_delete: bool,
    pub require_sso: bool,
    /// The allowed email domains, comma separated.
    pub allowed_domains: String,
    /// The caller's own weekly digest.
    pub digest: DigestSettings,
    /// Whether the caller may change the Jira permissions setting (owners), else only read it.
    pub can_set_jira_permissions: bool,
    pub jira_permissions: JiraPermissionsSettings,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// The caller's weekly digest subscription, for the members page's form.
pub(crate) struct DigestSettings {
    pub subscribed: bool,
    /// The zone they chose (if they ever subscribed), else the browser's (the dashboards'
    /// `mf_tz`), else UTC.
    pub time_zone: String,
    /// Every zone name, the one above selected.
    pub zones: Vec<(&'static str, bool)>,
}

/// "Members see only what their Jira account can see", for the members page's card.
pub(crate) struct JiraPermissionsSettings {
    pub enforced: bool,
    /// Members with no Atlassian account linked in the organization; counted only while on.
    pub unlinked_members: i64,
    /// Whether the caller is one of them (only while on).
    pub you_unlinked: bool,
    /// Why no member can link an account here now, if none can.
    pub cannot_link: Option<&'static str>,
}

/// What a digest's unsubscribe link opens: a button, since mail scanners follow links.
#[derive(Template)]
#[template(path = "pages/digest_unsubscribe.html")]
pub(crate) struct DigestUnsubscribe<'a> {
    /// The link itself, which the button POSTs to.
    pub action: &'a str,
    pub organization: &'a str,
    pub email: &'a str,
}

#[derive(Template)]
#[template(path = "pages/audit.html")]
pub(crate) struct Audit<'a> {
    pub id: String,
    pub name: &'a str,
    /// When, who, what, detail.
    pub entries: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "pages/invite.html")]
pub(crate) struct Invite<'a> {
    pub providers: Vec<ProviderButton>,
    pub csrf: &'a str,
    pub here: &'a str,
    pub organization: &'a str,
    pub inviter: &'a str,
    pub invited_email: &'a str,
    pub role: &'a str,
    pub signed_in_as: Option<&'a str>,
    pub signed_in_as_invitee: bool,
}

#[derive(Template)]
#[template(path = "pages/admin_page.html")]
pub(crate) struct AdminPage<'a> {
    pub workspace: &'a str,
    pub organization: Option<&'a str>,
    pub last_event: Option<String>,
    /// When and why the newest setup email was given up on, if it was.
    pub setup_email_failed: Option<(String, String)>,
    pub resend_action: &'a str,
    pub setup_action: &'a str,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// One of the user's API tokens; dates are UTC text.
pub(crate) struct ApiTokenRow {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// `None` when it never expires.
    pub expires_at: Option<String>,
    pub expired: bool,
}

/// One option of the expiry select on the API tokens page.
pub(crate) struct LifetimeChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "pages/api_tokens.html")]
pub(crate) struct ApiTokens<'a> {
    pub csrf: &'a str,
    pub email: &'a str,
    pub tokens: Vec<ApiTokenRow>,
    /// Only on the response to creating it.
    pub new_token: Option<&'a str>,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The name typed, kept when the form is shown again with an error.
    pub name: &'a str,
    pub name_max_chars: usize,
    pub lifetimes: Vec<LifetimeChoice>,
}

/// A provider's row on the account page.
pub(crate) struct SignInMethod {
    pub name: &'static str,
    pub label: &'static str,
    pub linked: Option<LinkedMethod>,
}

pub(crate) struct LinkedMethod {
    pub email: Option<String>,
    pub since: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "pages/account.html")]
pub(crate) struct Account<'a> {
    pub csrf: &'a str,
    pub email: &'a str,
    /// Whether the address is confirmed; if not, the page offers to send the link again.
    pub email_confirmed: bool,
    pub has_password: bool,
    pub methods: Vec<SignInMethod>,
    /// Whether removing one method leaves another.
    pub can_unlink: bool,
    /// One row per organization; empty when linking Atlassian accounts is off.
    pub jira: Vec<JiraLink>,
    pub notice: Option<&'a str>,
}

/// An organization's row under "Jira accounts" on the account page.
pub(crate) struct JiraLink {
    pub organization: String,
    pub organization_name: String,
    /// The organization's Jira Cloud sites, joined; empty when it has none to link on.
    pub sites: String,
    /// The linked account and since when, as the page says it.
    pub linked: Option<String>,
}

/// "Disconnect your Atlassian account?": a button, so a link followed by accident changes nothing.
#[derive(Template)]
#[template(path = "pages/atlassian_disconnect.html")]
pub(crate) struct AtlassianDisconnect<'a> {
    pub csrf: &'a str,
    pub action: &'a str,
    pub organization: &'a str,
    pub account_id: &'a str,
}

/// "Check your inbox" after signing up, and "confirm your email address first" where an
/// unconfirmed account is refused: both with the button that sends the link again.
#[derive(Template)]
#[template(path = "pages/confirm_email_pending.html")]
pub(crate) struct ConfirmEmailPending<'a> {
    pub title: &'a str,
    /// Just signed up (the email is on its way), rather than refused for want of it.
    pub first_step: bool,
    pub csrf: &'a str,
    pub email: &'a str,
    pub next: &'a str,
    pub valid_for: &'a str,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// What the link in a "confirm your email address" email opens: a button, since mail scanners
/// follow links and must not confirm anything.
#[derive(Template)]
#[template(path = "pages/confirm_email.html")]
pub(crate) struct ConfirmEmail<'a> {
    pub csrf: &'a str,
    pub here: &'a str,
    pub email: &'a str,
    /// The provider signed in with, when confirming creates the account.
    pub provider: Option<&'a str>,
}
