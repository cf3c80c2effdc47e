//! The emails we send, each as a plain-text and an HTML part rendered from `templates/email/`.

use std::time::{Duration, SystemTime};

use askama::Template;
use lettre::{
    Message,
    message::{Mailbox, MultiPart},
};

pub const SETUP_SUBJECT: &str = "Finish connecting your Jira workspace to MetaFrazo";

#[derive(Template)]
#[template(path = "email/setup.txt")]
struct SetupText<'a> {
    workspace: &'a str,
    site: &'a str,
    previous_organization: Option<&'a str>,
    link: &'a str,
    expires_at: &'a str,
    valid_for: &'a str,
}

#[derive(Template)]
#[template(path = "email/setup.html")]
struct SetupHtml<'a> {
    workspace: &'a str,
    site: &'a str,
    previous_organization: Option<&'a str>,
    link: &'a str,
    expires_at: &'a str,
    valid_for: &'a str,
}

#[derive(Template)]
#[template(path = "email/invite.txt")]
struct InviteText<'a> {
    inviter: &'a str,
    organization: &'a str,
    role: &'a str,
    link: &'a str,
    expires_at: &'a str,
}

#[derive(Template)]
#[template(path = "email/invite.html")]
struct InviteHtml<'a> {
    inviter: &'a str,
    organization: &'a str,
    role: &'a str,
    link: &'a str,
    expires_at: &'a str,
}

/// The text and HTML parts of a password reset share their fields.
macro_rules! password_reset_template {
    ($name:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path)]
        struct $name<'a> {
            to: &'a str,
            link: &'a str,
            expires_at: &'a str,
        }
    };
}
password_reset_template!(PasswordResetText, "email/password_reset.txt");
password_reset_template!(PasswordResetHtml, "email/password_reset.html");

/// The subject of the "confirm your email address" email (test-kit's `CONFIRM_ADDRESS_SUBJECT`
/// repeats it, to find the email in the SMTP sink).
pub const EMAIL_VERIFICATION_SUBJECT: &str = "Confirm your email address for MetaFrazo";

/// The text and HTML parts of an address confirmation share their fields.
macro_rules! email_verification_template {
    ($name:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path)]
        struct $name<'a> {
            to: &'a str,
            /// The provider signed in with, when confirming creates the account.
            provider: Option<&'a str>,
            link: &'a str,
            expires_at: &'a str,
        }
    };
}
email_verification_template!(EmailVerificationText, "email/email_verification.txt");
email_verification_template!(EmailVerificationHtml, "email/email_verification.html");

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("the recipient address {0:?} is not valid")]
    BadRecipient(String),
    #[error("cannot render the email: {0}")]
    Render(#[from] askama::Error),
    #[error("cannot build the email: {0}")]
    Build(#[from] lettre::error::Error),
}

pub struct SetupEmail<'a> {
    pub to: &'a str,
    pub workspace: &'a str,
    pub site: &'a str,
    pub previous_organization: Option<&'a str>,
    pub link: &'a str,
    pub expires_at: SystemTime,
    pub valid_for: Duration,
}

pub fn setup(from: &Mailbox, email: &SetupEmail<'_>) -> Result<Message, MessageError> {
    let (text, html) = setup_bodies(email)?;
    build(from, email.to, SETUP_SUBJECT, text, html)
}

/// The plain-text and HTML bodies of the setup email.
pub fn setup_bodies(email: &SetupEmail<'_>) -> Result<(String, String), MessageError> {
    let expires_at = utc_text(email.expires_at);
    let valid_for = duration_text(email.valid_for);
    let workspace = if email.workspace.is_empty() {
        email.site
    } else {
        email.workspace
    };
    let text = SetupText {
        workspace,
        site: email.site,
        previous_organization: email.previous_organization,
        link: email.link,
        expires_at: &expires_at,
        valid_for: &valid_for,
    }
    .render()?;
    let html = SetupHtml {
        workspace,
        site: email.site,
        previous_organization: email.previous_organization,
        link: email.link,
        expires_at: &expires_at,
        valid_for: &valid_for,
    }
    .render()?;
    Ok((text, html))
}

pub struct InviteEmail<'a> {
    pub to: &'a str,
    pub inviter: &'a str,
    pub organization: &'a str,
    pub role: &'a str,
    pub link: &'a str,
    pub expires_at: SystemTime,
}

pub fn invite(from: &Mailbox, email: &InviteEmail<'_>) -> Result<Message, MessageError> {
    let expires_at = utc_text(email.expires_at);
    let text = InviteText {
        inviter: email.inviter,
        organization: email.organization,
        role: email.role,
        link: email.link,
        expires_at: &expires_at,
    }
    .render()?;
    let html = InviteHtml {
        inviter: email.inviter,
        organization: email.organization,
        role: email.role,
        link: email.link,
        expires_at: &expires_at,
    }
    .render()?;
    let subject = format!("Join {} on MetaFrazo", email.organization);
    build(from, email.to, &subject, text, html)
}

pub struct PasswordResetEmail<'a> {
    pub to: &'a str,
    pub link: &'a str,
    pub expires_at: SystemTime,
}

pub fn password_reset(
    from: &Mailbox,
    email: &PasswordResetEmail<'_>,
) -> Result<Message, MessageError> {
    let expires_at = utc_text(email.expires_at);
    let text = PasswordResetText {
        to: email.to,
        link: email.link,
        expires_at: &expires_at,
    }
    .render()?;
    let html = PasswordResetHtml {
        to: email.to,
        link: email.link,
        expires_at: &expires_at,
    }
    .render()?;
    build(from, email.to, "Reset your MetaFrazo password", text, html)
}

pub struct EmailVerificationEmail<'a> {
    pub to: &'a str,
    pub provider: Option<&'a str>,
    pub link: &'a str,
    pub expires_at: SystemTime,
}

pub fn email_verification(
    from: &Mailbox,
    email: &EmailVerificationEmail<'_>,
) -> Result<Message, MessageError> {
    let expires_at = utc_text(email.expires_at);
    let text = EmailVerificationText {
        to: email.to,
        provider: email.provider,
        link: email.link,
        expires_at: &expires_at,
    }
    .render()?;
    let html = EmailVerificationHtml {
        to: email.to,
        provider: email.provider,
        link: email.link,
        expires_at: &expires_at,
    }
    .render()?;
    build(from, email.to, EMAIL_VERIFICATION_SUBJECT, text, html)
}

fn build(
    from: &Mailbox,
    to: &str,
    subject: &str,
    text: String,
    html: String,
) -> Result<Message, MessageError> {
    let to: Mailbox = to
        .parse()
        .map_err(|_| MessageError::BadRecipient(to.to_owned()))?;
    Ok(Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .multipart(MultiPart::alternative_plain_html(text, html))?)
}

/// `2026-11-23 18:30 UTC`: an email cannot know the reader's time zone, so it says which one.
pub fn utc_text(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at)
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

/// `4 hours`, `90 minutes`, `3 days`.
pub fn duration_text(duration: Duration) -> String {
    let minutes = duration.as_secs() / 60;
    match minutes {
        m if m % (60 * 24) == 0 && m >= 60 * 24 => plural(m / (60 * 24), "day"),
        m if m % 60 == 0 && m >= 60 => plural(m / 60, "hour"),
        m => plural(m, "minute"),
    }
}

fn plural(count: u64, unit: &str) -> String {
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setup_email_has_both_parts_with_the_link_and_the_expiry() {
        let from: Mailbox = "MetaFrazo <setup@metafrazo.test>".parse().unwrap();
        let link = "https://metafrazo.test/setup/abc";
        let email = SetupEmail {
            to: "ada@example.test",
            workspace: "Acme <Engineering>",
            site: "https://acme.atlassian.net",
            previous_organization: None,
            link,
            expires_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000),
            valid_for: Duration::from_secs(4 * 3600),
        };
        let raw = String::from_utf8(setup(&from, &email).unwrap().formatted()).unwrap();
        assert!(raw.contains(&format!("Subject: {SETUP_SUBJECT}")));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain"));
        assert!(raw.contains("text/html"));
        let (text, html) = setup_bodies(&email).unwrap();
        for body in [&text, &html] {
            assert!(body.contains(link));
            assert!(body.contains("2026-11-18 11:06 UTC"), "{body}");
            assert!(body.contains("4 hours"));
            assert!(body.contains("Re-send setup email"));
        }
        assert!(text.contains("Acme <Engineering>"));
        assert!(
            html.contains("Acme &#60;Engineering&#62;")
                || html.contains("Acme &lt;Engineering&gt;"),
            "{html}"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(Duration::from_secs(4 * 3600)), "4 hours");
        assert_eq!(duration_text(Duration::from_secs(90 * 60)), "90 minutes");
        assert_eq!(duration_text(Duration::from_secs(72 * 3600)), "3 days");
        assert_eq!(duration_text(Duration::from_secs(3600)), "1 hour");
    }
}
