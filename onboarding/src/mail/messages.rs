//! The emails we send, each as a plain-text and an HTML part rendered from `templates/email/`.

use std::time::{Duration, SystemTime};

use askama::Template;
use chrono::{Days, NaiveDate};
use lettre::{
    Message,
    message::{
        Mailbox, MessageBuilder, MultiPart,
        header::{HeaderName, HeaderValue},
    },
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

/// The text and HTML parts of a weekly digest share their fields.
macro_rules! digest_template {
    ($name:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path)]
        struct $name<'a> {
            organization: &'a str,
            week: &'a str,
            time_zone: &'a str,
            created: i64,
            resolved: i64,
            cycle_time_p85: Option<&'a str>,
            at_risk: &'a [String],
            more_at_risk: usize,
            weekly_link: &'a str,
            trends_link: &'a str,
            flow_link: &'a str,
            unsubscribe_link: &'a str,
        }
    };
}
digest_template!(DigestText, "email/digest.txt");
digest_template!(DigestHtml, "email/digest.html");

/// At most this many at-risk keys are listed; the flow view has them all.
pub const DIGEST_AT_RISK_LISTED: usize = 20;

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

/// A week's digest: the numbers as queued, and the links the sender made.
pub struct DigestEmail<'a> {
    pub to: &'a str,
    pub organization: &'a str,
    /// The Monday the week starts on, in `time_zone`.
    pub week_start: NaiveDate,
    pub time_zone: &'a str,
    pub numbers: &'a accounts_store::digests::Numbers,
    pub weekly_link: &'a str,
    pub trends_link: &'a str,
    pub flow_link: &'a str,
    /// `…/digest/unsubscribe?token=…`: the one-click link (RFC 8058) and the footer's.
    pub unsubscribe_link: &'a str,
}

/// `Your MetaFrazo week at Acme: 12 created, 9 resolved`.
pub fn digest_subject(organization: &str, created: i64, resolved: i64) -> String {
    format!("Your MetaFrazo week at {organization}: {created} created, {resolved} resolved")
}

/// `Monday 2026-11-30 to Sunday 2026-12-06`.
pub fn week_text(week_start: NaiveDate) -> String {
    let sunday = week_start + Days::new(6);
    format!(
        "{} to {}",
        week_start.format("%A %Y-%m-%d"),
        sunday.format("%A %Y-%m-%d")
    )
}

/// `31.5 hours`, or `2.3 days` from two days on.
pub fn hours_text(hours: f64) -> String {
    if hours >= 48.0 {
        format!("{:.1} days", hours / 24.0)
    } else {
        format!("{hours:.1} hours")
    }
}

/// The digest with RFC 8058's one-click unsubscribe: `List-Unsubscribe` names the link, and
/// `List-Unsubscribe-Post` says a POST to it unsubscribes with no further step.
pub fn digest(from: &Mailbox, email: &DigestEmail<'_>) -> Result<Message, MessageError> {
    let (text, html) = digest_bodies(email)?;
    let numbers = email.numbers;
    let subject = digest_subject(email.organization, numbers.created, numbers.resolved);
    Ok(builder(from, email.to, &subject)?
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{}>", email.unsubscribe_link),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".to_owned(),
        ))
        .multipart(MultiPart::alternative_plain_html(text, html))?)
}

/// The plain-text and HTML bodies of a digest.
pub fn digest_bodies(email: &DigestEmail<'_>) -> Result<(String, String), MessageError> {
    let numbers = email.numbers;
    let week = week_text(email.week_start);
    let p85 = numbers.cycle_time_p85_hours.map(hours_text);
    let listed = numbers.at_risk.len().min(DIGEST_AT_RISK_LISTED);
    let text = DigestText {
        organization: email.organization,
        week: &week,
        time_zone: email.time_zone,
        created: numbers.created,
        resolved: numbers.resolved,
        cycle_time_p85: p85.as_deref(),
        at_risk: &numbers.at_risk[..listed],
        more_at_risk: numbers.at_risk.len() - listed,
        weekly_link: email.weekly_link,
        trends_link: email.trends_link,
        flow_link: email.flow_link,
        unsubscribe_link: email.unsubscribe_link,
    }
    .render()?;
    let html = DigestHtml {
        organization: email.organization,
        week: &week,
        time_zone: email.time_zone,
        created: numbers.created,
        resolved: numbers.resolved,
        cycle_time_p85: p85.as_deref(),
        at_risk: &numbers.at_risk[..listed],
        more_at_risk: numbers.at_risk.len() - listed,
        weekly_link: email.weekly_link,
        trends_link: email.trends_link,
        flow_link: email.flow_link,
        unsubscribe_link: email.unsubscribe_link,
    }
    .render()?;
    Ok((text, html))
}

fn build(
    from: &Mailbox,
    to: &str,
    subject: &str,
    text: String,
    html: String,
) -> Result<Message, MessageError> {
    Ok(builder(from, to, subject)?.multipart(MultiPart::alternative_plain_html(text, html))?)
}

fn builder(from: &Mailbox, to: &str, subject: &str) -> Result<MessageBuilder, MessageError> {
    let to: Mailbox = to
        .parse()
        .map_err(|_| MessageError::BadRecipient(to.to_owned()))?;
    Ok(Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject))
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
    fn the_digest_carries_one_click_unsubscribe_and_says_what_it_lacks() {
        let from: Mailbox = "MetaFrazo <setup@metafrazo.test>".parse().unwrap();
        let unsubscribe = "https://metafrazo.test/digest/unsubscribe?token=abc_-123";
        let numbers = accounts_store::digests::Numbers {
            created: 12,
            resolved: 9,
            cycle_time_p85_hours: Some(31.54),
            at_risk: (1..=22).map(|n| format!("PAY-{n}")).collect(),
        };
        let email = |numbers| DigestEmail {
            to: "ada@example.test",
            organization: "Acme <Eng>",
            week_start: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            time_zone: "Asia/Kolkata",
            numbers,
            weekly_link: "https://dash.test/orgs/1/weekly?from=2026-11-30&to=2026-12-06",
            trends_link: "https://dash.test/orgs/1/trends?from=2026-11-30&to=2026-12-06",
            flow_link: "https://dash.test/orgs/1/flow?from=2026-11-30&to=2026-12-06",
            unsubscribe_link: unsubscribe,
        };
        let raw = String::from_utf8(digest(&from, &email(&numbers)).unwrap().formatted()).unwrap();
        assert!(
            raw.contains(&format!("List-Unsubscribe: <{unsubscribe}>\r\n")),
            "{raw}"
        );
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
        assert!(raw.contains("Subject: Your MetaFrazo week at Acme <Eng>: 12 created, 9 resolved"));
        let (text, html) = digest_bodies(&email(&numbers)).unwrap();
        assert!(
            text.contains("Monday 2026-11-30 to Sunday 2026-12-06 (Asia/Kolkata)"),
            "{text}"
        );
        assert!(text.contains("31.5 hours"), "{text}");
        assert!(text.contains("PAY-20 and 2 more"), "{text}");
        assert!(!text.contains("PAY-21"), "{text}");
        assert!(html.contains("&amp;to=2026-12-06") || html.contains("&#38;to=2026-12-06"));
        let quiet = accounts_store::digests::Numbers {
            cycle_time_p85_hours: None,
            at_risk: Vec::new(),
            ..numbers.clone()
        };
        let (text, _) = digest_bodies(&email(&quiet)).unwrap();
        assert!(text.contains("85th percentile: no completions"), "{text}");
        assert!(text.contains("week's end): none"), "{text}");
        assert_eq!(hours_text(72.0), "3.0 days");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(Duration::from_secs(4 * 3600)), "4 hours");
        assert_eq!(duration_text(Duration::from_secs(90 * 60)), "90 minutes");
        assert_eq!(duration_text(Duration::from_secs(72 * 3600)), "3 days");
        assert_eq!(duration_text(Duration::from_secs(3600)), "1 hour");
    }
}
