//! An organization's members, invitations, workspaces, audit log and deletion. Every handler
//! reads the caller's role fresh from Postgres and answers 404 to non-members, so another
//! organization's ids reveal nothing; role checks are `Role`'s, on the server. A form's handler
//! reads the role inside the transaction that acts on it (`Submitter::role_within`), so a
//! demotion committed a moment earlier is seen, and one racing it waits.

use anyhow::Context;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::CookieJar;
use deadpool_postgres::Transaction;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    error::PageError,
    pages::{self, InviteRow, MemberRow, Message, RoleChoice, WorkspaceRow, render},
    session::Visitor,
};
use crate::{AppState, mail::messages::utc_text};
use accounts_store::{
    audit::{self, Actor},
    invites,
    organizations::{self, Organization},
    outbox::{self, Email},
    roles::Role,
    sessions::{self, SignedIn},
    sign_in_policy::{PASSWORD, PolicyRefusal, SignInPolicy},
    users,
};

/// The caller, signed in and a member of the organization in the path.
struct InOrganization {
    user: SignedIn,
    role: Role,
    organization: Organization,
    policy: SignInPolicy,
}

async fn member(
    state: &AppState,
    visitor: &Visitor,
    organization: Uuid,
    here: &str,
) -> Result<InOrganization, PageError> {
    let user = visitor.require_user(here)?.clone();
    let client = state.postgres.get().await?;
    let role = organizations::role_of(&client, organization, user.user_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let organization = organizations::get(&client, organization)
        .await?
        .ok_or(PageError::NotFound)?;
    let policy = organizations::sign_in_policy(&client, organization.id).await?;
    if let Err(refusal) = policy.admits(&user.method, &user.email) {
        return Err(policy_refusal(&organization.name, here, &policy, refusal));
    }
    Ok(InOrganization {
        user,
        role,
        organization,
        policy,
    })
}

/// The page a member gets whom the organization's sign-in policy does not admit now.
pub(crate) fn policy_refusal(
    name: &str,
    here: &str,
    policy: &SignInPolicy,
    refusal: PolicyRefusal,
) -> PageError {
    let sign_in = format!(
        "/sign-in?next={}",
        url::form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>()
    );
    let message = match refusal {
        PolicyRefusal::SsoRequired => Message::new(
            &format!("{name} requires signing in with Google or Microsoft"),
            &[
                "You signed in with your password. Sign in again with Google or Microsoft to continue; if your account has neither yet, link one in your account settings first.",
            ],
        )
        .with_link(&sign_in, "Sign in again"),
        PolicyRefusal::DomainNotAllowed => Message::new(
            &format!("{name} admits only addresses at {}", policy.allowed_domains.join(", ")),
            &["Your account's address is at another domain. Ask an owner of the organization if you need access."],
        )
        .with_link(super::ORGANIZATIONS_PATH, "Your organizations"),
    };
    PageError::Explained(StatusCode::FORBIDDEN, message)
}

/// The caller of a form on the organization's pages, a member when the form arrived. There is
/// deliberately no role here: what a form may do is decided by `role_within` the transaction
/// that does it.
pub(super) struct Submitter {
    pub(super) user: SignedIn,
    pub(super) organization: Organization,
    policy: SignInPolicy,
}

impl Submitter {
    pub(super) fn actor(&self) -> Actor<'_> {
        Actor {
            user_id: self.user.user_id,
            email: &self.user.email,
        }
    }

    /// The caller's role now, holding their membership row until `transaction` ends: a
    /// demotion or removal committed since the request began is seen, and one arriving while
    /// this acts waits for it. No longer a member answers 404, as for any non-member.
    pub(super) async fn role_within(
        &self,
        transaction: &Transaction<'_>,
    ) -> Result<Role, PageError> {
        organizations::role_of_locked(transaction, self.organization.id, self.user.user_id)
            .await?
            .ok_or(PageError::NotFound)
    }
}

/// The caller of a form on the organization's pages: the CSRF token checked, then membership.
pub(super) async fn member_submitting(
    state: &AppState,
    visitor: &Visitor,
    organization: &str,
    csrf: &str,
) -> Result<Submitter, PageError> {
    visitor.check_csrf(csrf)?;
    let InOrganization {
        user,
        organization,
        policy,
        ..
    } = member(
        state,
        visitor,
        parse_id(organization)?,
        &members_path(organization),
    )
    .await?;
    Ok(Submitter {
        user,
        organization,
        policy,
    })
}

fn parse_id(text: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(text).map_err(|_| PageError::NotFound)
}

#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

/// Fixed notices by name: the query string never puts text of its own on the page.
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "invited" => "Invitation sent.",
        "invite_revoked" => "Invitation revoked.",
        "role_changed" => "Role changed.",
        "removed" => "Member removed. Their sessions were ended.",
        "policy" => "Sign-in policy saved.",
        "jira_permissions_on" => "Saved: members see only what their Jira account can see.",
        "jira_permissions_off" => {
            "Saved: members see everything their role allows, whatever Jira lets their account see."
        }
        "digest_on" => "Weekly digest saved: it comes on Monday mornings in your time zone.",
        "digest_off" => "Weekly digest turned off.",
        _ => return None,
    })
}

/// The members and settings page of an organization. It is not `/orgs/{id}`: on the one public
/// address that is the dashboards' overview, and onboarding answers it only to send old links on.
pub(crate) fn members_path(organization: impl std::fmt::Display) -> String {
    format!("/orgs/{organization}/members")
}

/// `GET /orgs/{id}` on onboarding itself: where the members page was, kept for old links.
pub(crate) async fn moved_page(Path(organization): Path<String>) -> Result<Response, PageError> {
    // Only an id goes into the `Location`, never the path's text.
    let id = parse_id(&organization)?;
    Ok(Redirect::to(&members_path(id)).into_response())
}

/// `GET /orgs/{id}/members`: members, invitations, workspaces, the sign-in policy, Jira
/// permissions.
pub(crate) async fn page(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    Query(done): Query<Done>,
    visitor: Visitor,
    cookies: CookieJar,
) -> Result<Response, PageError> {
    let here = members_path(&organization);
    let caller = member(&state, &visitor, parse_id(&organization)?, &here).await?;
    let id = caller.organization.id;
    let client = state.postgres.get().await?;
    let members = organizations::members(&client, id).await?;
    let workspaces = organizations::installations(&client, id).await?;
    let digest = super::digest::settings(&client, id, caller.user.user_id, &cookies).await?;
    let jira_permissions =
        super::jira_permissions::settings(&state, &client, id, caller.user.user_id).await?;
    let invites = if caller.role.can_manage_members() {
        invites::pending(&client, id).await?
    } else {
        Vec::new()
    };
    let assignable: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|role| caller.role.can_manage(*role))
        .collect();
    Ok(render(&pages::Organization {
        csrf: &visitor.csrf,
        id: id.to_string(),
        name: &caller.organization.name,
        email: &caller.user.email,
        role: caller.role.as_str(),
        dashboards_url: state.accounts.dashboards_url.as_str().trim_end_matches('/'),
        workspaces: workspaces
            .into_iter()
            .map(|workspace| WorkspaceRow {
                display_name: workspace.display_name,
                base_url: workspace.base_url,
                source: workspace.source,
                state: workspace.state,
            })
            .collect(),
        members: members
            .into_iter()
            .map(|member| MemberRow {
                manageable: caller.role.can_manage(member.role),
                choices: RoleChoice::menu(&assignable, member.role),
                is_you: member.user_id == caller.user.user_id,
                user_id: member.user_id.to_string(),
                email: member.email,
                role: member.role.to_string(),
            })
            .collect(),
        invites: invites
            .into_iter()
            .map(|invite| InviteRow {
                id: invite.id.to_string(),
                email: invite.email,
                role: invite.role.to_string(),
                expires_at: utc_text(invite.expires_at),
            })
            .collect(),
        invite_choices: RoleChoice::menu(&assignable, Role::Analyst),
        can_manage_members: caller.role.can_manage_members(),
        can_delete: caller.role.can_delete_organization(),
        require_sso: caller.policy.require_sso,
        allowed_domains: caller.policy.allowed_domains.join(", "),
        digest,
        can_set_jira_permissions: caller.role.can_set_jira_permissions(),
        jira_permissions,
        notice: notice(done.done.as_deref()),
        error: None,
    }))
}

pub(super) fn back_to(organization: Uuid, done: &str) -> Response {
    Redirect::to(&format!("{}?done={done}", members_path(organization))).into_response()
}

#[derive(Deserialize)]
pub(crate) struct InviteForm {
    csrf: String,
    email: String,
    role: String,
}

pub(crate) async fn invite(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    visitor: Visitor,
    Form(form): Form<InviteForm>,
) -> Result<Response, PageError> {
    let caller = member_submitting(&state, &visitor, &organization, &form.csrf).await?;
    let role = Role::parse(&form.role).ok_or(PageError::NotFound)?;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let caller_role = caller.role_within(&transaction).await?;
    if !caller_role.can_manage_members() || !caller_role.can_manage(role) {
        return Err(PageError::Forbidden(
            "inviting needs the admin role, and inviting an owner needs the owner role",
        ));
    }
    let email = users::normalize_email(&form.email);
    if !users::plausible_email(&email) {
        return Err(PageError::Explained(
            StatusCode::UNPROCESSABLE_ENTITY,
            Message::new(
                "That does not look like an email address",
                &["Go back and check it."],
            )
            .with_link(&members_path(&organization), "Back"),
        ));
    }
    if !caller.policy.admits_address(&email) {
        return Err(PageError::Explained(
            StatusCode::UNPROCESSABLE_ENTITY,
            Message::new(
                "That address is at a domain this organization does not allow",
                &[&format!(
                    "Only addresses at {} may join. Change the sign-in policy first if this one should.",
                    caller.policy.allowed_domains.join(", ")
                )],
            )
            .with_link(&members_path(&organization), "Back"),
        ));
    }
    let id = caller.organization.id;
    let already_member = organizations::members(&transaction, id)
        .await?
        .iter()
        .any(|member| member.email == email);
    if already_member {
        return Err(PageError::Explained(
            StatusCode::CONFLICT,
            Message::new(
                "Already a member",
                &[&format!(
                    "{email} is already a member of this organization."
                )],
            )
            .with_link(&members_path(&organization), "Back"),
        ));
    }
    let invite = invites::create(
        &transaction,
        id,
        &email,
        role,
        caller.user.user_id,
        state.accounts.invite_ttl,
    )
    .await?;
    outbox::enqueue(&transaction, &Email::Invite { invite }).await?;
    audit::record(
        &transaction,
        Some(id),
        Some(caller.actor()),
        "member_invited",
        &format!("{email} as {role}"),
    )
    .await?;
    transaction.commit().await?;
    state.outbox.wake();
    Ok(back_to(id, "invited"))
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

pub(crate) async fn revoke_invite(
    State(state): State<AppState>,
    Path((organization, invite)): Path<(String, String)>,
    visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    let caller = member_submitting(&state, &visitor, &organization, &form.csrf).await?;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    if !caller.role_within(&transaction).await?.can_manage_members() {
        return Err(PageError::Forbidden(
            "revoking invitations needs the admin role",
        ));
    }
    let id = caller.organization.id;
    if !invites::revoke(&transaction, id, parse_id(&invite)?).await? {
        return Err(PageError::NotFound);
    }
    audit::record(
        &transaction,
        Some(id),
        Some(caller.actor()),
        "invite_revoked",
        &invite,
    )
    .await?;
    transaction.commit().await?;
    Ok(back_to(id, "invite_revoked"))
}

#[derive(Deserialize)]
pub(crate) struct RoleForm {
    csrf: String,
    role: String,
}

pub(crate) async fn change_role(
    State(state): State<AppState>,
    Path((organization, user)): Path<(String, String)>,
    visitor: Visitor,
    Form(form): Form<RoleForm>,
) -> Result<Response, PageError> {
    let caller = member_submitting(&state, &visitor, &organization, &form.csrf).await?;
    let id = caller.organization.id;
    let target = parse_id(&user)?;
    let new_role = Role::parse(&form.role).ok_or(PageError::NotFound)?;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let caller_role = caller.role_within(&transaction).await?;
    let current = organizations::role_of_locked(&transaction, id, target)
        .await?
        .ok_or(PageError::NotFound)?;
    if !caller_role.can_manage(current) || !caller_role.can_manage(new_role) {
        return Err(PageError::Forbidden(
            "changing roles needs the admin role, and anything involving owners needs the owner role",
        ));
    }
    organizations::set_role(&transaction, id, target, new_role).await?;
    audit::record(
        &transaction,
        Some(id),
        Some(caller.actor()),
        "role_changed",
        &format!(
            "{}: {current} → {new_role}",
            email_of(&transaction, target).await?
        ),
    )
    .await?;
    transaction.commit().await?;
    Ok(back_to(id, "role_changed"))
}

async fn email_of(
    client: &impl deadpool_postgres::GenericClient,
    user: Uuid,
) -> Result<String, tokio_postgres::Error> {
    Ok(users::email_of(client, user).await?.unwrap_or_default())
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    Path((organization, user)): Path<(String, String)>,
    visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    let caller = member_submitting(&state, &visitor, &organization, &form.csrf).await?;
    let id = caller.organization.id;
    let target = parse_id(&user)?;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let caller_role = caller.role_within(&transaction).await?;
    let current = organizations::role_of_locked(&transaction, id, target)
        .await?
        .ok_or(PageError::NotFound)?;
    if !caller_role.can_manage(current) {
        return Err(PageError::Forbidden(
            "removing members needs the admin role, and removing an owner needs the owner role",
        ));
    }
    let email = email_of(&transaction, target).await?;
    organizations::remove_member(&transaction, id, target).await?;
    // Access is checked per request, so it is already gone; ending the sessions also closes
    // whatever the removed member had open.
    sessions::revoke_all_of(&transaction, target).await?;
    audit::record(
        &transaction,
        Some(id),
        Some(caller.actor()),
        "member_removed",
        &email,
    )
    .await?;
    transaction.commit().await?;
    Ok(back_to(id, "removed"))
}

pub(crate) async fn leave(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    visitor: Visitor,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    let caller = member_submitting(&state, &visitor, &organization, &form.csrf).await?;
    let id = caller.organization.id;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    organizations::remove_member(&transaction, id, caller.user.user_id).await?;
    audit::record(
        &transaction,
        Some(id),
        Some(caller.actor()),
        "member_left",
        "",
    )
    .await?;
    transaction.commit().await?;
    Ok(Redirect::to("/").into_response())
}

pub(crate) async fn audit_log(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let here = format!("/orgs/{organization}/audit");
    let caller = member(&state, &visitor, parse_id(&organization)?, &here).await?;
    if !caller.role.can_read_audit_log() {
        return Err(PageError::Forbidden(
            "the audit log is for owners and admins",
        ));
    }
    let client = state.postgres.get().await?;
    let entries = audit::of_organization(&client, caller.organization.id, 500)
        .await?
        .into_iter()
        .map(|entry| {
            (
                utc_text(entry.at),
                entry.actor_email.unwrap_or_else(|| "Atlassian".to_owned()),
                entry.action,
                entry.detail,
            )
        })
        .collect();
    Ok(render(&pages::Audit {
        id: caller.organization.id.to_string(),
        name: &caller.organization.name,
        entries,
    }))
}

#[derive(Deserialize)]
pub(crate) struct DeleteForm {
    csrf: String,
    confirm: String,
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    visitor: Visitor,
    Form(form): Form<DeleteForm>,
) -> Result<Response, PageError> {
    let caller = member_submitting(&state, &visitor, &organization, &form.csrf).await?;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    if !caller
        .role_within(&transaction)
        .await?
        .can_delete_organization()
    {
        return Err(PageError::Forbidden(
            "only owners can delete an organization",
        ));
    }
    if form.confirm.trim() != caller.organization.name {
        return Err(PageError::Explained(
            StatusCode::UNPROCESSABLE_ENTITY,
            Message::new(
                "The name did not match",
                &["Nothing was deleted. Type the organization's name exactly to confirm."],
            )
            .with_link(&members_path(&organization), "Back"),
        ));
    }
    let id = caller.organization.id;
    let installations = organizations::delete(&transaction, id).await?;
    // Erase the events before committing: if the warehouse refuses, the organization is still
    // there and the owner can try again; nothing is half deleted in the direction that hides
    // data from its owner while keeping it.
    warehouse::erase_installations(&state.warehouse, &installations)
        .await
        .context("erasing the organization's events")?;
    audit::record(
        &transaction,
        None,
        Some(caller.actor()),
        "organization_deleted",
        &format!(
            "{} ({id}), {} workspace(s) erased",
            caller.organization.name,
            installations.len()
        ),
    )
    .await?;
    transaction.commit().await?;
    tracing::info!(organization = %id, workspaces = installations.len(), "organization deleted");
    Ok(Redirect::to("/").into_response())
}

#[derive(Deserialize)]
pub(crate) struct PolicyForm {
    csrf: String,
    require_sso: Option<String>,
    #[serde(default)]
    allowed_domains: String,
}

/// `POST /orgs/{id}/sign-in-policy`: owners require single sign-on and restrict domains. The
/// owner saving it must pass it themselves, so nobody locks themselves out by mistake.
pub(crate) async fn set_sign_in_policy(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    visitor: Visitor,
    Form(form): Form<PolicyForm>,
) -> Result<Response, PageError> {
    let caller = member_submitting(&state, &visitor, &organization, &form.csrf).await?;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    if !caller
        .role_within(&transaction)
        .await?
        .can_delete_organization()
    {
        return Err(PageError::Forbidden(
            "only owners change the organization's sign-in policy",
        ));
    }
    let back = |title: &str, why: &str| {
        PageError::Explained(
            StatusCode::UNPROCESSABLE_ENTITY,
            Message::new(title, &[why, "The policy was not changed."])
                .with_link(&members_path(&organization), "Back"),
        )
    };
    let allowed_domains = SignInPolicy::parse_domains(&form.allowed_domains).map_err(|bad| {
        back(
            "That is not a list of domains",
            &format!("{bad:?} is not a domain like example.com."),
        )
    })?;
    let policy = SignInPolicy {
        require_sso: form.require_sso.is_some(),
        allowed_domains,
    };
    if !policy.admits_address(&caller.user.email) {
        return Err(back(
            "Your own address would be refused",
            "Add your own address's domain to the list.",
        ));
    }
    if policy.require_sso && caller.user.method == PASSWORD {
        return Err(back(
            "Sign in with Google or Microsoft first",
            "You signed in with your password, so requiring single sign-on would lock you out. Sign in with a provider (link one in your account settings), then save the policy.",
        ));
    }
    let id = caller.organization.id;
    organizations::set_sign_in_policy(&transaction, id, &policy).await?;
    let domains = if policy.allowed_domains.is_empty() {
        "any domain".to_owned()
    } else {
        policy.allowed_domains.join(", ")
    };
    audit::record(
        &transaction,
        Some(id),
        Some(caller.actor()),
        "sign_in_policy_changed",
        &format!(
            "single sign-on {}; {domains}",
            if policy.require_sso {
                "required"
            } else {
                "optional"
            }
        ),
    )
    .await?;
    transaction.commit().await?;
    Ok(back_to(id, "policy"))
}
