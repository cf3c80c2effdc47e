//! The HTML of the consent page and of the refusal page: plain forms with no external assets, so
//! a test (or a person at the local stack) picks the account and the sites, deterministically.

use std::fmt::Write;

use super::authorize::AuthorizationRequest;
use crate::oauth::{LinkedAccount, Site};

/// The consent page for `request`: the account to sign in as, a checkbox per hosted site
/// (checked), a field for a site the simulator does not host, then Accept or Cancel. The form
/// carries every parameter of the request back, as Atlassian's own page keeps them.
pub(super) fn render(
    request: &AuthorizationRequest,
    account: &LinkedAccount,
    sites: &[Site],
) -> String {
    let mut page = format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n\
         <title>Authorize {client} (local Atlassian)</title>\n\
         <h1>{client} wants to access your Atlassian account</h1>\n\
         <p>It asks for <code>{scope}</code>; the answer goes to <code>{redirect_uri}</code>.</p>\n\
         <form method=\"post\" action=\"/authorize\">\n",
        client = escape(&request.client_id),
        scope = escape(&request.scope),
        redirect_uri = escape(&request.redirect_uri),
    );
    for (name, value) in request.parameters() {
        let _ = writeln!(
            page,
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        );
    }
    let _ = write!(
        page,
        "<p><label>Atlassian account id <input type=\"text\" name=\"account_id\" value=\"{}\"></label></p>\n\
         <p><label>email <input type=\"text\" name=\"email\" value=\"{}\"></label></p>\n\
         <fieldset><legend>Sites to grant</legend>\n",
        escape(&account.account_id),
        escape(&account.email),
    );
    for site in sites {
        let _ = writeln!(
            page,
            "<p><label><input type=\"checkbox\" name=\"cloud_id\" value=\"{}\" checked> {}</label></p>",
            escape(&site.cloud_id),
            escape(&site.url)
        );
    }
    page.push_str(
        "<p><label>cloud id of a site this simulator does not host \
         <input type=\"text\" name=\"other_cloud_id\" value=\"\"></label></p>\n\
         </fieldset>\n\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Accept</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Cancel</button>\n\
         </form>\n",
    );
    page
}

/// Why the request was refused, for the person at the browser: the app is not told.
pub(super) fn error_page(message: &str) -> String {
    format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n\
         <title>Authorization refused (local Atlassian)</title>\n\
         <h1>Something's wrong with this authorization request</h1>\n<p>{}</p>\n",
        escape(message)
    )
}

/// Text made safe inside an element or a double-quoted attribute.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_value_stays_text() {
        assert_eq!(
            escape(r#""><script>alert('x')</script>&"#),
            "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
    }
}
