use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use domain::ids::EventId;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::{Stream, StreamExt};
use uuid::Uuid;

use crate::AppState;
use crate::dto::ProblemDto;
use crate::extract::{ApiPath, MaybeUser};
use crate::problem::Problem;

/// How often an idle stream sends a comment, so proxies keep it open.
const KEEP_ALIVE_SECS: u64 = 15;

/// Live availability as Server-Sent Events. Each `availability` message lists
/// the seats (`{id, status}`) and GA areas (`{area_id, remaining}`) that
/// changed; read `/availability` first for the full picture. A `checkins`
/// message (`{checked_in}`) counts tickets admitted so far. A `resync`
/// message means updates were missed: read `/availability` again.
#[utoipa::path(get, path = "/api/v1/events/{event}/live", tag = "events", params(("event" = Uuid, Path)),
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 404, body = ProblemDto)))]
pub async fn stream(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let event = EventId::from_uuid(event);
    // The same visibility as availability: drafts only for their organization.
    state.ticketing.event_details(viewer, event).await?;
    let updates = BroadcastStream::new(state.ticketing.watch(event)).map(|item| {
        Ok(match item {
            Ok(change) => match change.checked_in {
                Some(n) => Event::default().event("checkins").data(serde_json::json!({"checked_in": n}).to_string()),
                None => {
                    let data = serde_json::json!({"seats": change.seats, "ga": change.ga});
                    Event::default().event("availability").data(data.to_string())
                }
            },
            Err(BroadcastStreamRecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
        })
    });
    // A first message tells the client the stream is live, so it can read
    // the snapshot knowing no later change will be missed.
    let ready = tokio_stream::once(Ok(Event::default().event("ready").data("{}")));
    let stream = futures_util::StreamExt::take_until(ready.chain(updates), state.closing());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(KEEP_ALIVE_SECS))))
}
