//! Reads the local SMTP sink (aiosmtpd's Maildir under the stack directory): every message the
//! services sent, parsed as MIME.

use std::{path::PathBuf, time::Duration};

use mail_parser::MessageParser;

use crate::eventually;

pub struct Mailbox {
    dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The top-level headers, names as sent, values unfolded and trimmed.
    pub headers: Vec<(String, String)>,
}

impl Mail {
    /// The first header called `name` (in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The path (from `/`) of the first link in the text part that starts with `prefix`.
    pub fn link_path(&self, prefix: &str) -> String {
        let start = self
            .text
            .find(prefix)
            .unwrap_or_else(|| panic!("no link starting {prefix} in:\n{}", self.text));
        let link: String = self.text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let url = url::Url::parse(&link).unwrap();
        url.path().to_owned()
    }
}

impl Mailbox {
    /// The sink of the running stack: `$METAFRAZO_STACK_DIR/mail/new`, else the checkout's
    /// `.stack`.
    pub fn of_stack() -> Self {
        let stack = std::env::var("METAFRAZO_STACK_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.stack"));
        Self {
            dir: stack.join("mail/new"),
        }
    }

    /// Every message to `recipient` with `subject`, oldest first.
    pub fn messages(&self, recipient: &str, subject: &str) -> Vec<Mail> {
        self.to(recipient)
            .into_iter()
            .filter(|mail| mail.subject == subject)
            .collect()
    }

    /// Every message to `recipient`, whatever its subject, oldest first.
    pub fn to(&self, recipient: &str) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut found: Vec<(std::time::SystemTime, Mail)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let bytes = std::fs::read(entry.path()).ok()?;
                // Cheap filter before parsing: the address appears in the headers as is.
                if !String::from_utf8_lossy(&bytes).contains(recipient) {
                    return None;
                }
                let message = MessageParser::default().parse(&bytes)?;
                let to: Vec<String> = message
                    .to()
                    .map(|to| {
                        to.iter()
                            .filter_map(|address| address.address().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let mail = Mail {
                    to,
                    subject: message.subject().unwrap_or_default().to_owned(),
                    text: message
                        .body_text(0)
                        .map(|t| t.into_owned())
                        .unwrap_or_default(),
                    html: message
                        .body_html(0)
                        .map(|t| t.into_owned())
                        .unwrap_or_default(),
                    headers: message
                        .headers_raw()
                        .map(|(name, value)| {
                            let unfolded: String =
                                value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
                            (name.to_owned(), unfolded.trim().to_owned())
                        })
                        .collect(),
                };
                let modified = entry.metadata().ok()?.modified().ok()?;
                mail.to
                    .iter()
                    .any(|to| to == recipient)
                    .then_some((modified, mail))
            })
            .collect();
        found.sort_by_key(|(modified, _)| *modified);
        found.into_iter().map(|(_, mail)| mail).collect()
    }

    /// Waits up to 20 s for more than `already` such messages, and answers the newest.
    pub async fn wait_for(&self, recipient: &str, subject: &str, already: usize) -> Mail {
        eventually(
            Duration::from_secs(20),
            &format!(
                "email {subject:?} to {recipient} (mailbox {})",
                self.dir.display()
            ),
            || async {
                let mut messages = self.messages(recipient, subject);
                if messages.len() > already {
                    Ok(messages.pop().expect("more than `already` messages"))
                } else {
                    Err(format!(
                        "{} such messages, {already} there before",
                        messages.len()
                    ))
                }
            },
        )
        .await
    }
}
