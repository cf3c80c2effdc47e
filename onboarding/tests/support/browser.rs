//! A browser stand-in for the server-rendered pages: keeps cookies, does not follow redirects
//! (tests look at them), and sends each form with the CSRF token of the page last seen.

use std::collections::BTreeMap;

pub struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
    csrf: Option<String>,
}

#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub retry_after: Option<String>,
}

impl Page {
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }

    pub fn assert_redirect_to(&self, prefix: &str) -> &Self {
        assert!(
            (300..400).contains(&self.status),
            "expected a redirect, got {}: {}",
            self.status,
            self.body
        );
        let location = self.location.as_deref().unwrap_or_default();
        assert!(
            location.starts_with(prefix),
            "redirected to {location}, not {prefix}…"
        );
        self
    }

    pub fn assert_contains(&self, text: &str) -> &Self {
        assert!(
            self.body.contains(text),
            "page lacks {text:?}:\n{}",
            self.body
        );
        self
    }
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            csrf: None,
        }
    }

    /// The same cookies in another tab.
    pub fn tab(&self) -> Self {
        Self {
            base: self.base.clone(),
            http: self.http.clone(),
            cookies: self.cookies.clone(),
            csrf: self.csrf.clone(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// A cookie another page on the same address set (the dashboards' `mf_tz`, say).
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Opens a setup link and names a new organization there; answers the organization's id
    /// from where setup lands (the dashboards' `/orgs/{id}`).
    pub async fn create_organization(&mut self, setup_path: &str, name: &str) -> String {
        self.get(setup_path).await.assert_status(200);
        let done = self
            .submit(setup_path, &[("action", "create"), ("organization", name)])
            .await;
        done.assert_redirect_to("http://dashboards.test/orgs/");
        done.location
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Posts a form with the CSRF token of the last page seen.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.form_post_with_csrf(path, fields);
        self.send(request).await
    }

    /// Posts a form as [`Self::submit`] does, through a front door that says the client is
    /// `client` (`X-Forwarded-For`, as the stack's nginx appends it), after an address the
    /// client itself claimed (which must count for nothing).
    pub async fn submit_from(&mut self, client: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self
            .form_post_with_csrf(path, fields)
            .header("X-Forwarded-For", format!("10.9.9.9, {client}"));
        self.send(request).await
    }

    fn form_post_with_csrf(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let csrf = self
            .csrf
            .clone()
            .expect("a page with a form was seen first");
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &csrf));
        self.form_post(path, &form)
    }

    /// Posts a form exactly as given: no CSRF token added.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.form_post(path, fields);
        self.send(request).await
    }

    fn form_post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    }

    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header("Cookie", self.cookie_header())
        };
        let response = request.send().await.expect("onboarding answers");
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (location, retry_after) = (header("location"), header("retry-after"));
        let body = response.text().await.unwrap_or_default();
        if let Some(token) = csrf_in(&body) {
            self.csrf = Some(token);
        }
        Page {
            status,
            body,
            location,
            retry_after,
        }
    }
}

fn csrf_in(body: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_owned())
}
