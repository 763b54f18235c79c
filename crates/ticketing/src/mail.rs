//! E-mail: message templates (files, one folder per locale), MIME message
//! building and SMTP delivery.
//!
//! Templates live in `templates/email/<locale>/<message>.{subject,txt,html}`
//! and are embedded at build time; a folder of the same layout given in the
//! configuration overrides them file by file. A message missing in a locale
//! falls back to `en`. HTML templates are autoescaped; text and subject
//! templates are not.
//!
//! Each message carries a Message-ID made from its notification id, the
//! same on every attempt, so a receiving system that ever sees it twice (the
//! process died between the server's acceptance and the "sent" mark) can
//! recognise the duplicate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;
use store::NotificationRecord;

use crate::notifications::MessageKind;

/// The locale messages fall back to, and the default of every account.
pub const LOCALE_DEFAULT: &str = "en";
/// The locales with built-in templates; an account may choose one of these.
pub const LOCALES: &[&str] = &["en", "de"];
/// Longest locale tag accepted (`pt-BR`, `zh-Hant`): it names a folder.
pub const LOCALE_LEN_MAX: usize = 16;
/// The sender when none is configured.
pub const MAIL_FROM_DEFAULT: &str = "RobustTicketing <tickets@localhost>";
/// How long one SMTP exchange may take before the attempt counts as failed
/// (and is retried later); well inside the job lease.
const SMTP_TIMEOUT_SECS: u64 = 20;
/// Largest template file read from an override folder.
const TEMPLATE_BYTES_MAX: u64 = 256 * 1024;

/// The parts of one message.
const PARTS: [&str; 3] = ["subject", "txt", "html"];

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/email/", $name)))),*]
    };
}

/// The templates built into the binary, by name.
const EMBEDDED: &[(&str, &str)] = embedded!(
    "layout.html",
    "en/order_confirmation.subject",
    "en/order_confirmation.txt",
    "en/order_confirmation.html",
    "en/transfer_offer.subject",
    "en/transfer_offer.txt",
    "en/transfer_offer.html",
    "en/refund.subject",
    "en/refund.txt",
    "en/refund.html",
    "en/event_reminder.subject",
    "en/event_reminder.txt",
    "en/event_reminder.html",
    "en/event_cancelled.subject",
    "en/event_cancelled.txt",
    "en/event_cancelled.html",
    "en/team_invitation.subject",
    "en/team_invitation.txt",
    "en/team_invitation.html",
    "en/event_rescheduled.subject",
    "en/event_rescheduled.txt",
    "en/event_rescheduled.html",
    "en/resale_sold.subject",
    "en/resale_sold.txt",
    "en/resale_sold.html",
    "en/ticket_revoked.subject",
    "en/ticket_revoked.txt",
    "en/ticket_revoked.html",
    "en/verify_email.subject",
    "en/verify_email.txt",
    "en/verify_email.html",
    "en/password_reset.subject",
    "en/password_reset.txt",
    "en/password_reset.html",
    "en/password_changed.subject",
    "en/password_changed.txt",
    "en/password_changed.html",
    "de/order_confirmation.subject",
    "de/order_confirmation.txt",
    "de/order_confirmation.html",
    "de/event_cancelled.subject",
    "de/event_cancelled.txt",
    "de/event_cancelled.html",
    "de/team_invitation.subject",
    "de/team_invitation.txt",
    "de/team_invitation.html",
    "de/event_rescheduled.subject",
    "de/event_rescheduled.txt",
    "de/event_rescheduled.html",
    "de/transfer_offer.subject",
    "de/transfer_offer.txt",
    "de/transfer_offer.html",
    "de/refund.subject",
    "de/refund.txt",
    "de/refund.html",
    "de/event_reminder.subject",
    "de/event_reminder.txt",
    "de/event_reminder.html",
    "de/resale_sold.subject",
    "de/resale_sold.txt",
    "de/resale_sold.html",
    "de/ticket_revoked.subject",
    "de/ticket_revoked.txt",
    "de/ticket_revoked.html",
    "de/verify_email.subject",
    "de/verify_email.txt",
    "de/verify_email.html",
    "de/password_reset.subject",
    "de/password_reset.txt",
    "de/password_reset.html",
    "de/password_changed.subject",
    "de/password_changed.txt",
    "de/password_changed.html",
);

/// How to send mail, from the configuration.
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `smtp://host:port` (plain; `?tls=required` for STARTTLS) or
    /// `smtps://host:port` (TLS), with optional `user:password@`. `None`:
    /// messages queue until a server is configured.
    pub smtp_url: Option<String>,
    /// The From address, e.g. `Tickets <tickets@example.org>`.
    pub from: String,
    /// A folder whose templates override the built-in ones.
    pub templates_dir: Option<PathBuf>,
    /// The address of the web app, for links in messages.
    pub public_url: String,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: MAIL_FROM_DEFAULT.to_owned(),
            templates_dir: None,
            public_url: "http://127.0.0.1:8080".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error("SMTP_URL is not a usable smtp:// or smtps:// URL: {0}")]
    BadSmtpUrl(String),
    #[error("the mail From address '{0}' is not an e-mail address")]
    BadFrom(String),
    #[error("mail template {name}: {error}")]
    Template { name: String, error: String },
}

/// Why a message could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("message: {0}")]
    Message(String),
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No SMTP server is configured: the message waits in the queue.
    #[error("no SMTP server is configured (SMTP_URL); the message waits in the queue")]
    NotConfigured,
    /// Worth trying again later (server down, 4xx, timeout).
    #[error("SMTP: {0}")]
    Transient(String),
    /// The server refused the message for good (5xx).
    #[error("SMTP refused the message: {0}")]
    Permanent(String),
}

/// A rendered message.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    templates: minijinja::Environment<'static>,
    public_url: String,
}

/// Only `a-z`, `A-Z`, `0-9` and `-`, so a locale can name a folder safely.
pub fn normalize_locale(raw: &str) -> String {
    let ok =
        !raw.is_empty() && raw.len() <= LOCALE_LEN_MAX && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok { raw.to_owned() } else { LOCALE_DEFAULT.to_owned() }
}

fn load_overrides(dir: &Path, env: &mut minijinja::Environment<'static>) -> Result<(), MailSetupError> {
    let bad = |name: &str, error: String| MailSetupError::Template { name: name.to_owned(), error };
    let read = |path: &Path, name: &str| -> Result<String, MailSetupError> {
        let meta = std::fs::metadata(path).map_err(|e| bad(name, e.to_string()))?;
        if meta.len() > TEMPLATE_BYTES_MAX {
            return Err(bad(name, format!("larger than {TEMPLATE_BYTES_MAX} bytes")));
        }
        std::fs::read_to_string(path).map_err(|e| bad(name, e.to_string()))
    };
    let entries = std::fs::read_dir(dir).map_err(|e| bad(&dir.display().to_string(), e.to_string()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let file = entry.file_name().to_string_lossy().into_owned();
        if path.is_file() && file == "layout.html" {
            let source = read(&path, &file)?;
            env.add_template_owned(file.clone(), source).map_err(|e| bad(&file, e.to_string()))?;
        } else if path.is_dir() && normalize_locale(&file) == file {
            for inner in std::fs::read_dir(&path).map_err(|e| bad(&file, e.to_string()))?.flatten() {
                let name = inner.file_name().to_string_lossy().into_owned();
                let known_part = PARTS.iter().any(|p| name.ends_with(&format!(".{p}")));
                if !inner.path().is_file() || !known_part {
                    continue;
                }
                let full = format!("{file}/{name}");
                let source = read(&inner.path(), &full)?;
                env.add_template_owned(full.clone(), source).map_err(|e| bad(&full, e.to_string()))?;
            }
        }
    }
    Ok(())
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> Result<Self, MailSetupError> {
        let from: Mailbox = settings.from.parse().map_err(|_| MailSetupError::BadFrom(settings.from.clone()))?;
        // The pooled transport needs a Tokio runtime (build it from async code).
        let transport = match settings.smtp_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(url) => {
                crate::install_crypto_provider();
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailSetupError::BadSmtpUrl(e.to_string()))?;
                Some(builder.timeout(Some(Duration::from_secs(SMTP_TIMEOUT_SECS))).build())
            }
        };
        let mut templates = minijinja::Environment::new();
        for (name, source) in EMBEDDED {
            templates
                .add_template(name, source)
                .map_err(|e| MailSetupError::Template { name: (*name).to_owned(), error: e.to_string() })?;
        }
        if let Some(dir) = &settings.templates_dir {
            load_overrides(dir, &mut templates)?;
        }
        Ok(Self { transport, from, templates, public_url: settings.public_url.trim_end_matches('/').to_owned() })
    }

    /// Built-in templates, no SMTP server: messages queue.
    pub fn unconfigured() -> Self {
        Self::new(&MailSettings::default()).expect("the built-in mail settings and templates are valid")
    }

    pub fn is_configured(&self) -> bool {
        self.transport.is_some()
    }

    /// `path` made absolute against the web app's address.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    fn render_part(&self, kind: &str, locale: &str, part: &str, data: &Value) -> Result<String, minijinja::Error> {
        let wanted = format!("{}/{kind}.{part}", normalize_locale(locale));
        let template = match self.templates.get_template(&wanted) {
            Ok(t) => t,
            Err(e) if e.kind() == minijinja::ErrorKind::TemplateNotFound => {
                self.templates.get_template(&format!("{LOCALE_DEFAULT}/{kind}.{part}"))?
            }
            Err(e) => return Err(e),
        };
        template.render(data)
    }

    /// The subject line alone: the title of the in-app notification.
    pub fn render_subject(&self, kind: &str, locale: &str, data: &Value) -> Result<String, minijinja::Error> {
        // A subject is one line, whatever the template's whitespace.
        Ok(self.render_part(kind, locale, "subject", data)?.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    pub fn render(&self, kind: &str, locale: &str, data: &Value) -> Result<Rendered, minijinja::Error> {
        let mut with_subject = data.clone();
        let subject = self.render_subject(kind, locale, data)?;
        if let Value::Object(map) = &mut with_subject {
            map.insert("subject".into(), Value::String(subject.clone()));
            map.insert("locale".into(), Value::String(normalize_locale(locale)));
        }
        Ok(Rendered {
            subject,
            text: self.render_part(kind, locale, "txt", &with_subject)?,
            html: self.render_part(kind, locale, "html", &with_subject)?,
        })
    }

    /// The whole MIME message for a notification: text and HTML; for an
    /// order confirmation also each ticket's QR code as an inline PNG (the
    /// HTML shows it by `cid:`); for a confirmation and a moved event the
    /// event as an `.ics` attachment.
    /// `data` is the notification's data, completed for sending.
    pub fn build(&self, n: &NotificationRecord, data: &Value) -> Result<Message, BuildError> {
        let to_address = n.email.as_deref().ok_or_else(|| BuildError::Message("no recipient address".into()))?;
        let to: Mailbox = to_address.parse().map_err(|_| BuildError::Message(format!("bad address {to_address}")))?;
        let rendered = self.render(&n.kind, &n.locale, data)?;
        let body = MultiPart::alternative_plain_html(rendered.text, rendered.html);
        let confirmation = n.kind == MessageKind::OrderConfirmation.as_str();
        // A moved event's file has the same UID and a later DTSTAMP: calendars
        // that imported the confirmation's file move the entry (RFC 5546).
        let calendar = confirmation || n.kind == MessageKind::EventRescheduled.as_str();
        let body = if confirmation {
            let mut related = MultiPart::related().multipart(body);
            for t in data["tickets"].as_array().into_iter().flatten() {
                let (Some(cid), Some(barcode)) = (t["cid"].as_str(), t["barcode"].as_str()) else { continue };
                let png = crate::qr::png(barcode).map_err(|e| BuildError::Message(e.to_string()))?;
                related = related.singlepart(
                    Attachment::new_inline_with_name(cid.to_owned(), format!("{cid}.png"))
                        .body(png, ContentType::parse("image/png").expect("valid content type")),
                );
            }
            MultiPart::mixed().multipart(related)
        } else if calendar {
            MultiPart::mixed().multipart(body)
        } else {
            body
        };
        let body = match event_ics(&data["event"], n.created_at).filter(|_| calendar) {
            Some(ics) => body.singlepart(Attachment::new("event.ics".to_owned()).body(
                ics,
                ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH").expect("valid content type"),
            )),
            None => body,
        };
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(self.message_id(&n.id)))
            .date(n.created_at.into())
            .multipart(body)
            .map_err(|e| BuildError::Message(e.to_string()))
    }

    /// `<notification id@sender's domain>`: the same on every attempt.
    pub fn message_id(&self, notification_id: &str) -> String {
        format!("<{notification_id}@{}>", self.from.email.domain())
    }

    /// Hands the message to the SMTP server; Ok once the server accepted it.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        let Some(transport) = &self.transport else {
            return Err(SendError::NotConfigured);
        };
        match transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}

/// The `.ics` of an event described in a message's data.
fn event_ics(event: &Value, stamp: domain::Timestamp) -> Option<String> {
    let time = |key: &str| event[key].as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    let (starts_at, ends_at) = (time("starts_at")?, time("ends_at")?);
    let uid = format!("{}@robust-ticketing", event["id"].as_str()?);
    Some(domain::calendar::event_ics(&domain::calendar::CalendarEvent {
        uid: &uid,
        title: event["title"].as_str().unwrap_or_default(),
        location: event["venue"].as_str().unwrap_or_default(),
        description: event["description"].as_str().unwrap_or_default(),
        starts_at: starts_at.to_utc(),
        ends_at: ends_at.to_utc(),
        stamp,
        url: None,
        cancelled: false,
    }))
}

/// A short, header-safe id for an inline part.
pub(crate) fn content_id(ticket: &str) -> String {
    format!("ticket-{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ticket.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Value {
        json!({
            "name": "Ada <Lovelace>",
            "link": "http://t.example/app/tickets",
            "event": {"id": "e1", "title": "Gig & Friends", "venue": "Hall", "description": "",
                      "starts_at": "2026-12-24T19:30:00Z", "ends_at": "2026-12-24T22:30:00Z",
                      "starts_at_text": "2026-12-24 20:30 CET"},
            "order": {"id": "o1", "total": "90.00 EUR"},
            "tickets": [{"label": "Main R1 seat 3", "barcode": "RT1.abc", "cid": "ticket-1"}],
        })
    }

    #[test]
    fn renders_every_built_in_message_in_every_part() {
        let m = Mailer::unconfigured();
        let mut d = data();
        d["refund"] = json!({"amount": "45.00 EUR", "tickets": ["Main R1 seat 3"]});
        d["from_name"] = json!("Bob");
        d["expires_at_text"] = json!("tomorrow");
        d["organization"] = json!("Gig Co");
        d["role"] = json!("gate");
        d["days"] = json!(7);
        d["old_starts_at_text"] = json!("2026-12-01 20:00 CET");
        d["ends_at_text"] = json!("2026-12-08 23:00 CET");
        d["note"] = json!("The band is ill.");
        d["refunds_until_text"] = json!("2026-12-05 20:00 CET");
        d["resale"] = json!({"place": "Main R1 seat 3", "price": "49.50 EUR", "seller_receives": "47.03 EUR"});
        d["ticket"] = json!({"place": "Main R1 seat 3", "cancelled": false, "used_before": true});
        d["account_name"] = json!("Ada");
        d["minutes"] = json!(60);
        d["at_text"] = json!("2026-12-07 14:00 UTC");
        for kind in crate::notifications::MessageKind::ALL {
            for locale in LOCALES {
                let r = m.render(kind.as_str(), locale, &d).unwrap();
                assert!(!r.subject.is_empty() && !r.text.is_empty() && r.html.contains("<html"), "{kind:?} {locale}");
                assert!(!r.subject.contains('\n'));
                assert!(r.html.contains(&format!("<html lang=\"{locale}\">")), "{kind:?} {locale}");
                for part in [&r.subject, &r.text, &r.html] {
                    assert!(!part.contains("{{") && !part.contains("{%"), "{kind:?} {locale}: {part}");
                }
            }
            // Every built-in locale has its own copy of every part: none
            // falls back to English.
            for (locale, part) in LOCALES.iter().flat_map(|l| PARTS.iter().map(move |p| (l, p))) {
                let name = format!("{locale}/{}.{part}", kind.as_str());
                assert!(EMBEDDED.iter().any(|(n, _)| *n == name), "{name} is not built in");
            }
            let (en, de) = (m.render(kind.as_str(), "en", &d).unwrap(), m.render(kind.as_str(), "de", &d).unwrap());
            assert_ne!(en.subject, de.subject, "{kind:?}: no German subject");
            assert_ne!(en.text, de.text, "{kind:?}: no German text");
            assert_ne!(en.html, de.html, "{kind:?}: no German HTML");
        }
    }

    #[test]
    fn a_revoked_ticket_reads_sensibly_in_every_case() {
        let m = Mailer::unconfigured();
        let mut d = data();
        let cases = [
            (
                "withdrawn",
                json!({"place": "Main R1 seat 3; Main R1 seat 4", "count": 2, "withdrawn": true,
                                 "cancelled": false, "used_before": false}),
            ),
            ("used_before", json!({"place": "Main R1 seat 3", "cancelled": false, "used_before": true})),
            (
                "cancelled",
                json!({"place": "Main R1 seat 3", "count": 1, "withdrawn": false, "cancelled": true,
                                 "used_before": false}),
            ),
            (
                "refunded",
                json!({"place": "Main R1 seat 3", "count": 1, "withdrawn": false, "cancelled": false,
                                "used_before": false}),
            ),
        ];
        // What each case must say, and what only another case says.
        let says = |case: &str, locale: &str| -> &'static [&'static str] {
            match (case, locale) {
                ("withdrawn", "en") => &["Your 2 tickets for", "the organizer cancelled them. They were free"],
                ("withdrawn", _) => &["Ihre 2 Tickets für", "Der Veranstalter hat sie storniert. Sie waren kostenlos"],
                ("used_before", "en") => &["Your ticket for", "a gate without a network let it in"],
                ("used_before", _) => &["Ihr Ticket für", "Einlass ohne Netzverbindung bereits entwertet"],
                ("cancelled", "en") => &["Your ticket for", "the event was cancelled", "The money went back"],
                ("cancelled", _) => &["Ihr Ticket für", "Die Veranstaltung wurde abgesagt", "Das Geld ging"],
                (_, "en") => &["Your ticket for", "refunded by the organizer", "The money went back"],
                _ => &["Ihr Ticket für", "Der Veranstalter hat die zugehörige Bestellung", "Das Geld ging"],
            }
        };
        for (case, ticket) in &cases {
            d["ticket"] = ticket.clone();
            for locale in LOCALES {
                let r = m.render("ticket_revoked", locale, &d).unwrap();
                // The HTML's words, tags dropped and whitespace collapsed.
                let mut html_text = String::new();
                for piece in r.html.split('<') {
                    html_text.push(' ');
                    html_text.push_str(piece.split_once('>').map_or(piece, |(_, words)| words));
                }
                let html_text = html_text.split_whitespace().collect::<Vec<_>>().join(" ").replace(" .", ".");
                let whole = format!("{}\n{}", r.subject, r.text);
                for want in says(case, locale) {
                    let lower = want.to_lowercase();
                    assert!(whole.to_lowercase().contains(&lower), "{case} {locale}: no '{want}' in {whole}");
                    assert!(html_text.to_lowercase().contains(&lower), "{case} {locale}: no '{want}' in {html_text}");
                }
                for (other, _) in cases.iter().filter(|(c, _)| c != case) {
                    let theirs = says(other, locale)[1].to_lowercase();
                    assert!(!whole.to_lowercase().contains(&theirs), "{case} {locale}: says '{theirs}': {whole}");
                }
                for part in [&r.subject, &r.text, &r.html] {
                    for bad in ["{{", "}}", "{%", "%}", " .", " ,", " ;", " :", "()", "..", ". .", ":.", "<p></p>"] {
                        assert!(!part.contains(bad), "{case} {locale}: '{bad}' in {part}");
                    }
                }
                assert!(!r.text.contains("\n\n\n"), "{case} {locale}: {}", r.text);
                assert!(r.text.contains("Main R1 seat 3") && r.text.contains("http://t.example/app/tickets"));
            }
        }
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let r = Mailer::unconfigured().render("order_confirmation", "en", &data()).unwrap();
        assert!(r.html.contains("Ada &lt;Lovelace&gt;"), "{}", r.html);
        assert!(r.html.contains("Gig &amp; Friends"));
        assert!(r.html.contains("src=\"cid:ticket-1\""));
        assert!(r.text.contains("Hello Ada <Lovelace>,"));
        assert_eq!(r.subject, "Your tickets for Gig & Friends");
    }

    #[test]
    fn orders_are_named_by_their_reference_and_older_messages_by_their_id() {
        let m = Mailer::unconfigured();
        let mut d = data();
        let old = m.render("order_confirmation", "en", &d).unwrap();
        assert!(old.text.contains("your order o1 (90.00 EUR)"), "{}", old.text);
        d["order"]["reference"] = json!("89C9-418B-655D");
        for kind in ["order_confirmation", "refund"] {
            d["refund"] = json!({"amount": "45.00 EUR", "tickets": []});
            let r = m.render(kind, "en", &d).unwrap();
            assert!(r.text.contains("order 89C9-418B-655D") && !r.text.contains(" o1 "), "{kind}: {}", r.text);
            assert!(r.html.contains("order 89C9-418B-655D"), "{kind}: {}", r.html);
        }
    }

    #[test]
    fn falls_back_to_english_and_sanitises_the_locale() {
        let m = Mailer::unconfigured();
        assert_eq!(m.render_subject("order_confirmation", "de", &data()).unwrap(), "Ihre Tickets für Gig & Friends");
        assert!(m.render_subject("order_confirmation", "xx", &data()).unwrap().starts_with("Your tickets"));
        // A locale that has some messages gets the others in English.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("fr")).unwrap();
        std::fs::write(dir.path().join("fr/refund.subject"), "Remboursement de {{ refund.amount }}").unwrap();
        let m = Mailer::new(&MailSettings { templates_dir: Some(dir.path().to_owned()), ..MailSettings::default() })
            .unwrap();
        let mut d = data();
        d["refund"] = json!({"amount": "1.00 EUR", "tickets": []});
        let r = m.render("refund", "fr", &d).unwrap();
        assert_eq!(r.subject, "Remboursement de 1.00 EUR");
        assert!(r.text.contains("we have refunded 1.00 EUR"), "{}", r.text);
        assert!(m.render_subject("order_confirmation", "fr", &d).unwrap().starts_with("Your tickets"));
        assert_eq!(normalize_locale("../../etc"), "en");
    }

    #[test]
    fn an_override_folder_replaces_single_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("en")).unwrap();
        std::fs::write(dir.path().join("en/refund.subject"), "Money back: {{ refund.amount }}").unwrap();
        let m = Mailer::new(&MailSettings { templates_dir: Some(dir.path().to_owned()), ..MailSettings::default() })
            .unwrap();
        let mut d = data();
        d["refund"] = json!({"amount": "1.00 EUR", "tickets": []});
        assert_eq!(m.render_subject("refund", "en", &d).unwrap(), "Money back: 1.00 EUR");
        assert!(m.render_subject("order_confirmation", "en", &d).unwrap().starts_with("Your tickets"));
        std::fs::write(dir.path().join("en/refund.txt"), "{% if %}").unwrap();
        let broken =
            Mailer::new(&MailSettings { templates_dir: Some(dir.path().to_owned()), ..MailSettings::default() });
        assert!(matches!(broken, Err(MailSetupError::Template { .. })));
    }

    #[test]
    fn builds_a_confirmation_with_qr_codes_and_a_calendar_file() {
        let m = Mailer::unconfigured();
        let n = NotificationRecord {
            id: "0193-abc".into(),
            user: None,
            email: Some("ada@example.org".into()),
            kind: "order_confirmation".into(),
            locale: "en".into(),
            title: "t".into(),
            link: None,
            data: data().to_string(),
            email_status: "queued".into(),
            email_sent_at: None,
            read_at: None,
            created_at: chrono::Utc::now(),
        };
        let raw = String::from_utf8(m.build(&n, &data()).unwrap().formatted()).unwrap();
        assert!(raw.contains("Message-ID: <0193-abc@localhost>"), "{raw}");
        assert!(raw.contains("multipart/mixed") && raw.contains("multipart/related"));
        assert!(raw.contains("multipart/alternative") && raw.contains("text/plain") && raw.contains("text/html"));
        assert!(raw.contains("Content-ID: <ticket-1>") && raw.contains("image/png"));
        assert!(raw.contains("text/calendar") && raw.contains("event.ics"));
        assert_eq!(m.message_id("x"), "<x@localhost>");
    }

    // The pooled transport lives on the Tokio runtime.
    #[tokio::test]
    async fn rejects_bad_settings() {
        let bad_from = MailSettings { from: "not an address".into(), ..MailSettings::default() };
        assert!(matches!(Mailer::new(&bad_from), Err(MailSetupError::BadFrom(_))));
        let bad_url = MailSettings { smtp_url: Some("ftp://x".into()), ..MailSettings::default() };
        assert!(matches!(Mailer::new(&bad_url), Err(MailSetupError::BadSmtpUrl(_))));
        let ok = MailSettings { smtp_url: Some("smtp://127.0.0.1:2525".into()), ..MailSettings::default() };
        assert!(Mailer::new(&ok).unwrap().is_configured());
    }
}
