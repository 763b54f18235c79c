//! The waiting room page: join the line, watch your place move live, and
//! go choose seats when your turn comes.
//!
//! Joining needs the browser to solve a small proof-of-work (`queue.js`), so
//! this page needs JavaScript to join; once in line, the page itself tells
//! where the buyer stands, and when their turn comes it sets the admission
//! cookie that the seat form (which works without JavaScript) presents.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::ids::EventId;
use maud::html;
use store::QueueStatus;
use ticketing::waiting_room::QueueError;
use uuid::Uuid;

use super::layout::{self, Page, Section, local_time, problem_detail};
use super::session::{self, Viewer};
use crate::AppState;

fn admission_cookie(token: &str, max_age_secs: i64, secure: bool) -> axum::http::HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let raw = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}",
        session::ADMISSION_COOKIE
    );
    axum::http::HeaderValue::from_str(&raw).expect("admission tokens are URL-safe ASCII")
}

fn wait_text(secs: u64) -> String {
    match secs {
        0..=59 => "less than a minute".to_owned(),
        60..=119 => "about a minute".to_owned(),
        s if s < 3600 => format!("about {} minutes", s.div_ceil(60)),
        s => format!("about {} h {} min", s / 3600, (s % 3600) / 60),
    }
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(event): Path<String>,
) -> Response {
    let Ok(event_id) = event.parse::<Uuid>() else {
        return super::not_found_page_for(&viewer);
    };
    let Some(user) = viewer.user else {
        return Redirect::to(&format!("/signin?next=/events/{event_id}/queue")).into_response();
    };
    let id = EventId::from_uuid(event_id);
    let details = match state.ticketing.event_details(Some(user), id).await {
        Ok(d) => d,
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            return layout::error_page(&viewer, status, "Event not found", &detail);
        }
    };
    let event = &details.event;
    let position = match state.ticketing.queue_position(user, id).await {
        Ok(p) => Some(p),
        Err(QueueError::NotInLine) => None,
        // No room on: straight to the seats.
        Err(QueueError::NoRoom | QueueError::SaleOver(_)) => {
            return Redirect::to(&format!("/events/{event_id}")).into_response();
        }
        Err(e) => {
            let (status, detail, _) = problem_detail(e.into()).await;
            return layout::error_page(&viewer, status, "Something went wrong", &detail);
        }
    };
    let now = state.ticketing.now();
    let status = position.as_ref().map(|p| p.status);
    let body = html! {
        article.queue #queue-app data-event=(event_id) data-status=(status.map_or("none", |s| s.as_str())) {
            h1 { "Waiting room" }
            p.event-meta {
                a href={ "/events/" (event_id) } { (event.title) }
                " · " time datetime=(event.starts_at.to_rfc3339()) { (local_time(event.starts_at, &event.timezone)) }
            }
            @match &position {
                None => {
                    section.panel aria-labelledby="join-h" {
                        h2 #join-h { "Join the line" }
                        p { "So many people want tickets that buyers are let in turn by turn. Everyone who joins before the sale opens gets a random place, so there is no need to hurry or refresh; after that, places go in order of arrival." }
                        p.hint #join-status role="status" aria-live="polite" {}
                        button #join.button.primary type="button" { "Join the line" }
                        noscript { p.alert { "Joining the line needs JavaScript: your browser does a few seconds of work that keeps bots out." } }
                    }
                }
                Some(p) => {
                    @match p.status {
                        QueueStatus::Waiting => {
                            section.panel aria-labelledby="place-h" {
                                h2 #place-h { "You are in line" }
                                div #place role="status" aria-live="polite" {
                                    @match p.ahead {
                                        Some(ahead) => {
                                            p.big-number { span #ahead { (ahead) } }
                                            p { @if ahead == 1 { "person ahead of you" } @else { "people ahead of you" } }
                                            p #wait {
                                                @match p.estimated_wait_secs {
                                                    Some(secs) => { "Estimated wait: " (wait_text(secs)) "." }
                                                    None => { "Buyers will be let in shortly." }
                                                }
                                            }
                                        }
                                        None => {
                                            p { "The sale opens at "
                                                time datetime=(p.opens_at.to_rfc3339()) { (local_time(p.opens_at, &event.timezone)) }
                                                ". Then everyone who joined before gets a random place in line." }
                                        }
                                    }
                                }
                                p.hint { (p.waiting) " waiting. Keep this page open: it updates by itself, and you keep your place if you close it." }
                                noscript { p { a href={ "/events/" (event_id) "/queue" } { "Refresh to see your place" } } }
                            }
                        }
                        QueueStatus::Admitted => {
                            section.panel.success aria-labelledby="turn-h" {
                                h2 #turn-h { "It's your turn" }
                                @if let Some(until) = p.token_expires_at {
                                    p { "Choose your seats before "
                                        time datetime=(until.to_rfc3339()) { (local_time(until, &event.timezone)) }
                                        ". After that, your turn passes to the next in line." }
                                }
                                a.button.primary href={ "/events/" (event_id) "#buy" } { "Choose your seats" }
                            }
                        }
                        QueueStatus::Used => {
                            section.panel aria-labelledby="used-h" {
                                h2 #used-h { "You have had your turn" }
                                p { "Your seats are held for you: " a href="/tickets" { "see your tickets" } " or finish paying from the event page. To buy more, join the line again." }
                                p.hint #join-status role="status" aria-live="polite" {}
                                button #join.button type="button" { "Join the line again" }
                            }
                        }
                        QueueStatus::Expired => {
                            section.panel aria-labelledby="lapsed-h" {
                                h2 #lapsed-h { "Your turn has lapsed" }
                                p { "Your turn passed to the next in line because no seats were chosen in time. You can join the line again, at the back." }
                                p.hint #join-status role="status" aria-live="polite" {}
                                button #join.button type="button" { "Join the line again" }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut response = layout::respond(
        StatusCode::OK,
        Page { title: "Waiting room", viewer: &viewer, section: Section::Events, scripts: &["queue.js"], body },
    );
    if let Some(p) = &position
        && p.status == QueueStatus::Admitted
        && let (Some(token), Some(until)) = (&p.admission_token, p.token_expires_at)
    {
        let max_age = (until - now).num_seconds().max(1);
        response
            .headers_mut()
            .append(header::SET_COOKIE, admission_cookie(token, max_age, session::is_https(&headers)));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(wait_text(10), "less than a minute");
        assert_eq!(wait_text(90), "about a minute");
        assert_eq!(wait_text(600), "about 10 minutes");
        assert_eq!(wait_text(7500), "about 2 h 5 min");
    }
}
