//! RFC 9457 problem details, and the one place where use-case errors become
//! HTTP status codes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use ticketing::Denied;
use ticketing::accounts::{
    ChangePasswordError, LoginError, RegisterError, RequestPasswordResetError, ResetPasswordError,
    SendVerificationError, VerifyEmailError,
};
use ticketing::checkin::CheckinError;
use ticketing::checkout::OrderError;
use ticketing::events::{
    ChangeEventError, CreateEventError, DeleteEventError, EditEventError, ListEventsError, TicketTypeError,
    ViewEventError,
};
use ticketing::gate::GateError;
use ticketing::holds::{AvailabilityError, HoldFailure, ReleaseFailure};
use ticketing::notifications::NotificationError;
use ticketing::organizations::{
    AddMemberFailure, ChangeRoleError, CreateOrganizationError, InvitationError, InviteFailure, RemoveMemberError,
    ViewTeamError,
};
use ticketing::payments::attempts::{GatewayListError, NotificationFailure};
use ticketing::refunds::{CancelTicketsError, EventOrdersError, MoveRefundError, RefundError};
use ticketing::reschedule::RescheduleError;
use ticketing::venues::{CreateVenueError, DeleteVenueError, EditVenueError, ViewVenueError};
use ticketing::waiting_room::{AdmissionRefused, QueueError, SaleControlsError};
use ticketing::webhooks::WebhookError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error response: `type`, `title`, `status`, `detail`, plus extension
/// members that clients can act on (which seats were taken, and so on).
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    extensions: Map<String, Value>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

/// The longest `detail` sent. Errors quote what they refuse, and what they
/// refuse may be a megabyte: the answer to bad input stays small.
const PROBLEM_DETAIL_LEN_MAX: usize = 2_000;

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        let detail = domain::text::excerpt(&detail.into(), PROBLEM_DETAIL_LEN_MAX);
        Self { status, kind, title, detail, extensions: Map::new(), headers: Vec::new() }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: &'static str) -> Self {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    pub fn with_header_value(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", detail)
    }

    pub fn unprocessable(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, kind, "The request cannot be carried out as given", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn conflict(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, kind, "Conflict with the current state", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required", detail)
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    /// A failure that is ours, not the client's. The cause goes to the log,
    /// never to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "something went wrong on our side; it has been logged. Retrying is safe.",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:robust-ticketing:problem:{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Value::Object(map) = &mut body {
            map.extend(self.extensions);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<store::StoreError> for Problem {
    fn from(e: store::StoreError) -> Self {
        if e.is_overloaded() {
            tracing::warn!(error = %e, "database overloaded");
            return Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Temporarily overloaded",
                "the service is busy; retry in a moment",
            )
            .with_header(header::RETRY_AFTER, "1");
        }
        Problem::internal(&e)
    }
}

impl From<Denied> for Problem {
    fn from(d: Denied) -> Self {
        match d {
            Denied::NotFound(_) => Problem::not_found(d.to_string()),
            Denied::Forbidden(_) => Problem::forbidden(d.to_string()),
        }
    }
}

impl From<RegisterError> for Problem {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::EmailTaken => Problem::conflict("email-taken", e.to_string()),
            RegisterError::Store(s) => s.into(),
            other => Problem::unprocessable("invalid-account", other.to_string()),
        }
    }
}

impl From<VerifyEmailError> for Problem {
    fn from(e: VerifyEmailError) -> Self {
        match e {
            VerifyEmailError::UnknownLink => Problem::unprocessable("verification-link-unknown", e.to_string()),
            VerifyEmailError::Store(s) => s.into(),
        }
    }
}

impl From<RequestPasswordResetError> for Problem {
    fn from(e: RequestPasswordResetError) -> Self {
        match e {
            RequestPasswordResetError::InvalidEmail(_) => Problem::unprocessable("invalid-email", e.to_string()),
            RequestPasswordResetError::Store(s) => s.into(),
        }
    }
}

impl From<ResetPasswordError> for Problem {
    fn from(e: ResetPasswordError) -> Self {
        match e {
            ResetPasswordError::UnknownLink => Problem::unprocessable("password-link-unknown", e.to_string()),
            ResetPasswordError::WeakPassword(_) => Problem::unprocessable("weak-password", e.to_string()),
            ResetPasswordError::Store(s) => s.into(),
        }
    }
}

impl From<ChangePasswordError> for Problem {
    fn from(e: ChangePasswordError) -> Self {
        match e {
            ChangePasswordError::WrongPassword => Problem::unprocessable("wrong-password", e.to_string()),
            ChangePasswordError::TooManyFailures(wait) => too_many_failures(wait, e.to_string()),
            ChangePasswordError::WeakPassword(_) => Problem::unprocessable("weak-password", e.to_string()),
            ChangePasswordError::Store(s) => s.into(),
        }
    }
}

impl From<SendVerificationError> for Problem {
    fn from(e: SendVerificationError) -> Self {
        match e {
            SendVerificationError::AlreadyVerified => Problem::conflict("email-verified-already", e.to_string()),
            SendVerificationError::TooMany(_) => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-verification-links",
                "Too many confirmation links",
                e.to_string(),
            )
            .with_header(header::RETRY_AFTER, "3600"),
            SendVerificationError::Store(s) => s.into(),
        }
    }
}

/// 429 for an address with too many wrong passwords lately.
fn too_many_failures(wait: chrono::Duration, detail: String) -> Problem {
    // Whole seconds, rounded up, at least one.
    let secs = (wait.num_milliseconds().max(1) as u64).div_ceil(1000);
    Problem::new(StatusCode::TOO_MANY_REQUESTS, "too-many-failed-sign-ins", "Too many failed sign-ins", detail)
        .with_header_value(header::RETRY_AFTER, HeaderValue::from(secs))
}

impl From<LoginError> for Problem {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::BadCredentials => Problem::unauthorized(e.to_string()),
            LoginError::TooManyFailures(wait) => too_many_failures(wait, e.to_string()),
            LoginError::Store(s) => s.into(),
        }
    }
}

impl From<CreateOrganizationError> for Problem {
    fn from(e: CreateOrganizationError) -> Self {
        match e {
            CreateOrganizationError::BadName => Problem::unprocessable("invalid-organization", e.to_string()),
            CreateOrganizationError::Store(s) => s.into(),
        }
    }
}

impl From<ViewTeamError> for Problem {
    fn from(e: ViewTeamError) -> Self {
        match e {
            ViewTeamError::Denied(d) => d.into(),
            ViewTeamError::Store(s) => s.into(),
        }
    }
}

impl From<RemoveMemberError> for Problem {
    fn from(e: RemoveMemberError) -> Self {
        match e {
            RemoveMemberError::NotMember => Problem::not_found(e.to_string()),
            RemoveMemberError::Owner => Problem::conflict("owner-stays", e.to_string()),
            RemoveMemberError::Denied(d) => d.into(),
            RemoveMemberError::Store(s) => s.into(),
        }
    }
}

impl From<AddMemberFailure> for Problem {
    fn from(e: AddMemberFailure) -> Self {
        match e {
            AddMemberFailure::InvalidEmail(_) | AddMemberFailure::UnknownUser => {
                Problem::unprocessable("invalid-member", e.to_string())
            }
            AddMemberFailure::AlreadyMember => Problem::conflict("already-member", e.to_string()),
            AddMemberFailure::Denied(d) => d.into(),
            AddMemberFailure::Store(s) => s.into(),
        }
    }
}

impl From<InviteFailure> for Problem {
    fn from(e: InviteFailure) -> Self {
        match e {
            InviteFailure::InvalidEmail(_) | InviteFailure::OwnerRole => {
                Problem::unprocessable("invalid-member", e.to_string())
            }
            InviteFailure::AlreadyMember => Problem::conflict("already-member", e.to_string()),
            InviteFailure::AlreadyInvited => Problem::conflict("already-invited", e.to_string()),
            InviteFailure::TooMany => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-invitations",
                "Too many invitations",
                e.to_string(),
            )
            .with_header(header::RETRY_AFTER, "3600"),
            InviteFailure::Denied(d) => d.into(),
            InviteFailure::Store(s) => s.into(),
        }
    }
}

impl From<InvitationError> for Problem {
    fn from(e: InvitationError) -> Self {
        match e {
            InvitationError::Unknown => Problem::not_found(e.to_string()),
            InvitationError::Accepted | InvitationError::Revoked | InvitationError::Expired => {
                Problem::new(StatusCode::GONE, "invitation-closed", "The invitation is closed", e.to_string())
            }
            InvitationError::AlreadyMember => Problem::conflict("already-member", e.to_string()),
            InvitationError::AddressUnconfirmed => {
                Problem::new(StatusCode::FORBIDDEN, "email-unconfirmed", "Confirm your address first", e.to_string())
            }
            InvitationError::OtherAddress(_) => Problem::new(
                StatusCode::FORBIDDEN,
                "invitation-for-another-address",
                "The invitation is for another address",
                e.to_string(),
            ),
            InvitationError::Denied(d) => d.into(),
            InvitationError::Store(s) => s.into(),
        }
    }
}

impl From<ChangeRoleError> for Problem {
    fn from(e: ChangeRoleError) -> Self {
        match e {
            ChangeRoleError::NotMember => Problem::not_found(e.to_string()),
            ChangeRoleError::Owner => Problem::conflict("owner-stays", e.to_string()),
            ChangeRoleError::OwnerRole => Problem::unprocessable("invalid-member", e.to_string()),
            ChangeRoleError::Denied(d) => d.into(),
            ChangeRoleError::Store(s) => s.into(),
        }
    }
}

impl From<CreateVenueError> for Problem {
    fn from(e: CreateVenueError) -> Self {
        match e {
            CreateVenueError::Venue(_) | CreateVenueError::SeatMap(_) => {
                Problem::unprocessable("invalid-venue", e.to_string())
            }
            CreateVenueError::Denied(d) => d.into(),
            CreateVenueError::Store(s) => s.into(),
        }
    }
}

impl From<EditVenueError> for Problem {
    fn from(e: EditVenueError) -> Self {
        match e {
            EditVenueError::Venue(_) => Problem::unprocessable("invalid-venue", e.to_string()),
            EditVenueError::ZoneInUse => Problem::conflict("venue-in-use", e.to_string()),
            EditVenueError::Denied(d) => d.into(),
            EditVenueError::Store(s) => s.into(),
        }
    }
}

impl From<DeleteVenueError> for Problem {
    fn from(e: DeleteVenueError) -> Self {
        match e {
            DeleteVenueError::InUse => Problem::conflict("venue-in-use", e.to_string()),
            DeleteVenueError::Denied(d) => d.into(),
            DeleteVenueError::Store(s) => s.into(),
        }
    }
}

impl From<ViewVenueError> for Problem {
    fn from(e: ViewVenueError) -> Self {
        match e {
            ViewVenueError::Denied(d) => d.into(),
            ViewVenueError::Store(s) => s.into(),
        }
    }
}

impl From<CreateEventError> for Problem {
    fn from(e: CreateEventError) -> Self {
        match e {
            CreateEventError::UnknownVenue | CreateEventError::Invalid(_) => {
                Problem::unprocessable("invalid-event", e.to_string())
            }
            CreateEventError::KeyReused(_) => Problem::unprocessable("idempotency-key-reused", e.to_string()),
            CreateEventError::VenueChanged => Problem::conflict("venue-changed", e.to_string()),
            CreateEventError::Denied(d) => d.into(),
            CreateEventError::Store(s) => s.into(),
        }
    }
}

impl From<ChangeEventError> for Problem {
    fn from(e: ChangeEventError) -> Self {
        match e {
            ChangeEventError::Transition(_) | ChangeEventError::Concurrent => {
                Problem::conflict("event-state", e.to_string())
            }
            ChangeEventError::Denied(d) => d.into(),
            ChangeEventError::Store(s) => s.into(),
        }
    }
}

impl From<EventOrdersError> for Problem {
    fn from(e: EventOrdersError) -> Self {
        match e {
            EventOrdersError::SearchTooLong => Problem::bad_request(e.to_string()),
            EventOrdersError::Denied(d) => d.into(),
            EventOrdersError::Store(s) => s.into(),
        }
    }
}

impl From<EditEventError> for Problem {
    fn from(e: EditEventError) -> Self {
        match e {
            EditEventError::Invalid(_) | EditEventError::SalesAfterEvent(_) => {
                Problem::unprocessable("invalid-event", e.to_string())
            }
            EditEventError::DatesSold => Problem::conflict("event-sold", e.to_string()),
            EditEventError::SaleOver(_) => Problem::conflict("sale-over", e.to_string()),
            EditEventError::Denied(d) => d.into(),
            EditEventError::Store(s) => s.into(),
        }
    }
}

impl From<MoveRefundError> for Problem {
    fn from(e: MoveRefundError) -> Self {
        match e {
            MoveRefundError::NotOffered => Problem::conflict("refund-not-offered", e.to_string()),
            MoveRefundError::NothingLeft => Problem::conflict("nothing-left", e.to_string()),
            MoveRefundError::Denied(d) => d.into(),
            MoveRefundError::Store(s) => s.into(),
        }
    }
}

impl From<DeleteEventError> for Problem {
    fn from(e: DeleteEventError) -> Self {
        match e {
            DeleteEventError::NotDraft(_) => Problem::conflict("event-not-draft", e.to_string()),
            DeleteEventError::Denied(d) => d.into(),
            DeleteEventError::Store(s) => s.into(),
        }
    }
}

impl From<RescheduleError> for Problem {
    fn from(e: RescheduleError) -> Self {
        match e {
            RescheduleError::Invalid(_)
            | RescheduleError::SalesAfterEvent(_)
            | RescheduleError::Unchanged
            | RescheduleError::InPast
            | RescheduleError::BadRefundWindow
            | RescheduleError::BadNote => Problem::unprocessable("invalid-event", e.to_string()),
            RescheduleError::NotOnSale(_) => Problem::conflict("event-not-on-sale", e.to_string()),
            RescheduleError::Concurrent => Problem::conflict("concurrent-change", e.to_string()),
            RescheduleError::Denied(d) => d.into(),
            RescheduleError::Store(s) => s.into(),
        }
    }
}

impl From<TicketTypeError> for Problem {
    fn from(e: TicketTypeError) -> Self {
        match e {
            TicketTypeError::Invalid(_) => Problem::unprocessable("invalid-event", e.to_string()),
            TicketTypeError::UnknownTicketType => Problem::not_found(e.to_string()),
            TicketTypeError::SaleOver(_) => Problem::conflict("sale-over", e.to_string()),
            TicketTypeError::InUse => Problem::conflict("ticket-type-in-use", e.to_string()),
            TicketTypeError::LastOnSale => Problem::conflict("last-ticket-type", e.to_string()),
            TicketTypeError::Denied(d) => d.into(),
            TicketTypeError::Store(s) => s.into(),
        }
    }
}

impl From<ViewEventError> for Problem {
    fn from(e: ViewEventError) -> Self {
        match e {
            ViewEventError::Denied(d) => d.into(),
            ViewEventError::Store(s) => s.into(),
        }
    }
}

impl From<ListEventsError> for Problem {
    fn from(e: ListEventsError) -> Self {
        match e {
            ListEventsError::Store(s) => s.into(),
            other => Problem::bad_request(other.to_string()),
        }
    }
}

fn e_limit(max: u32, already: u32) -> String {
    format!("at most {max} tickets per account for this event; this account already holds or owns {already}")
}

impl From<AdmissionRefused> for Problem {
    fn from(e: AdmissionRefused) -> Self {
        let kind = match &e {
            AdmissionRefused::TokenRequired => "admission-required",
            AdmissionRefused::Invalid(_) => "admission-invalid",
            AdmissionRefused::Spent => "admission-spent",
            AdmissionRefused::Blocked => "account-blocked",
        };
        Problem::new(StatusCode::FORBIDDEN, kind, "Not admitted", e.to_string())
    }
}

impl From<QueueError> for Problem {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::NoRoom => Problem::conflict("no-waiting-room", e.to_string()),
            QueueError::SaleOver(_) => Problem::conflict("sale-over", e.to_string()),
            QueueError::NotInLine => Problem::not_found(e.to_string()),
            QueueError::Challenge(c) => Problem::unprocessable("challenge-failed", c.to_string()),
            QueueError::Denied(d) => d.into(),
            QueueError::Store(s) => s.into(),
        }
    }
}

impl From<SaleControlsError> for Problem {
    fn from(e: SaleControlsError) -> Self {
        match e {
            SaleControlsError::UnknownFlag => Problem::not_found(e.to_string()),
            SaleControlsError::SaleOver(_) => Problem::conflict("sale-over", e.to_string()),
            SaleControlsError::AdmissionWindow
            | SaleControlsError::AutoThreshold
            | SaleControlsError::Difficulty
            | SaleControlsError::TicketLimit
            | SaleControlsError::OpensAfterEvent => Problem::unprocessable("invalid-sale-controls", e.to_string()),
            SaleControlsError::Denied(d) => d.into(),
            SaleControlsError::Store(s) => s.into(),
        }
    }
}

impl From<HoldFailure> for Problem {
    fn from(e: HoldFailure) -> Self {
        use domain::hold::HoldError;
        match e {
            HoldFailure::Unavailable(c) => {
                let seats: Vec<String> = c.seats.iter().map(|s| s.to_string()).collect();
                let areas: Vec<String> = c.ga_areas.iter().map(|a| a.to_string()).collect();
                let mut detail = String::from("nothing was held: ");
                if !seats.is_empty() {
                    detail.push_str(&match seats.len() {
                        1 => "a seat asked for is taken".to_owned(),
                        n => format!("{n} of the seats asked for are taken"),
                    });
                }
                if !areas.is_empty() {
                    if !seats.is_empty() {
                        detail.push_str("; ");
                    }
                    detail.push_str("not enough places remain in the requested GA area");
                }
                detail.push_str(". Choose other seats or fewer places.");
                Problem::conflict("unavailable", detail)
                    .with("unavailable_seats", seats)
                    .with("unavailable_ga_areas", areas)
            }
            HoldFailure::NotEnoughSeats(detail) => Problem::conflict("unavailable", detail),
            HoldFailure::BadBestAvailable(detail) => Problem::unprocessable("invalid-hold", detail),
            HoldFailure::Rejected(r @ (HoldError::EventNotOnSale(_) | HoldError::SalesClosed(_))) => {
                Problem::conflict("not-on-sale", r.to_string())
            }
            HoldFailure::Rejected(r) => Problem::unprocessable("invalid-hold", r.to_string()),
            HoldFailure::Refused(r) => r.into(),
            HoldFailure::AccountLimit { max, already } => Problem::conflict("ticket-limit", e_limit(max, already))
                .with("tickets_per_account_max", max)
                .with("tickets_already", already),
            HoldFailure::Denied(d) => d.into(),
            HoldFailure::Store(s) => s.into(),
        }
    }
}

impl From<ReleaseFailure> for Problem {
    fn from(e: ReleaseFailure) -> Self {
        match e {
            ReleaseFailure::Ordered => Problem::conflict("hold-ordered", e.to_string()),
            ReleaseFailure::Denied(d) => d.into(),
            ReleaseFailure::Store(s) => s.into(),
        }
    }
}

impl From<AvailabilityError> for Problem {
    fn from(e: AvailabilityError) -> Self {
        match e {
            AvailabilityError::Denied(d) => d.into(),
            AvailabilityError::Store(s) => s.into(),
        }
    }
}

impl From<OrderError> for Problem {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::UnknownGateway(..) | OrderError::KeyReused | OrderError::BadToken => {
                Problem::unprocessable("invalid-order", e.to_string())
            }
            OrderError::StillProcessing => {
                Problem::conflict("in-progress", e.to_string()).with_header(header::RETRY_AFTER, "1")
            }
            OrderError::HoldNotLive => Problem::conflict("hold-expired", e.to_string()),
            OrderError::EventCancelled => Problem::conflict("event-cancelled", e.to_string()),
            OrderError::Refused(r) => r.into(),
            OrderError::AlreadyOrdered(order) => {
                Problem::conflict("hold-ordered", e.to_string()).with("order_id", order.to_string())
            }
            OrderError::Declined(_) => {
                Problem::new(StatusCode::PAYMENT_REQUIRED, "payment-declined", "Payment declined", e.to_string())
            }
            OrderError::GatewayUnavailable(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "gateway-unavailable",
                "Payment gateway unavailable",
                format!(
                    "{e}. Retry with the same Idempotency-Key; a charge whose outcome was unknown is completed \
                     into this order or refunded, never kept without one."
                ),
            )
            .with_header(header::RETRY_AFTER, "5"),
            OrderError::Replayed { status, detail } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CONFLICT);
                let kind = match status {
                    StatusCode::PAYMENT_REQUIRED => "payment-declined",
                    StatusCode::NOT_FOUND => "not-found",
                    _ => "hold-expired",
                };
                Problem::new(status, kind, "Replayed outcome of an earlier request with this Idempotency-Key", detail)
            }
            OrderError::Denied(d) => d.into(),
            OrderError::Store(s) => s.into(),
        }
    }
}

impl From<NotificationFailure> for Problem {
    fn from(e: NotificationFailure) -> Self {
        match e {
            NotificationFailure::UnknownGateway(_) => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", e.to_string())
            }
            NotificationFailure::Refused(_) => Problem::bad_request(e.to_string()),
            NotificationFailure::Store(s) => s.into(),
        }
    }
}

impl From<GatewayListError> for Problem {
    fn from(e: GatewayListError) -> Self {
        match e {
            GatewayListError::UnknownGateway(..) | GatewayListError::BadList => {
                Problem::unprocessable("invalid-gateways", e.to_string())
            }
            GatewayListError::Denied(d) => d.into(),
            GatewayListError::Store(s) => s.into(),
        }
    }
}

impl From<RefundError> for Problem {
    fn from(e: RefundError) -> Self {
        match e {
            RefundError::NonPositiveAmount
            | RefundError::CurrencyMismatch
            | RefundError::ExceedsRemaining { .. }
            | RefundError::TicketNotRefundable(_)
            | RefundError::TooManyTickets => Problem::unprocessable("invalid-refund", e.to_string()),
            RefundError::BadKey => Problem::bad_request(e.to_string()),
            RefundError::KeyReused => Problem::unprocessable("idempotency-key-reused", e.to_string()),
            RefundError::NothingLeft => Problem::conflict("fully-refunded", e.to_string()),
            RefundError::FreeTickets => Problem::conflict("free-tickets", e.to_string()),
            RefundError::Denied(d) => d.into(),
            RefundError::Store(s) => s.into(),
        }
    }
}

impl From<CancelTicketsError> for Problem {
    fn from(e: CancelTicketsError) -> Self {
        match e {
            CancelTicketsError::TooManyTickets | CancelTicketsError::NoneNamed | CancelTicketsError::NotInOrder(_) => {
                Problem::unprocessable("invalid-cancellation", e.to_string())
            }
            CancelTicketsError::NothingToCancel => Problem::conflict("nothing-to-cancel", e.to_string()),
            CancelTicketsError::HasPrice(_) => Problem::conflict("ticket-has-a-price", e.to_string()),
            CancelTicketsError::NotCancellable(_) => Problem::conflict("ticket-not-cancellable", e.to_string()),
            CancelTicketsError::Denied(d) => d.into(),
            CancelTicketsError::Store(s) => s.into(),
        }
    }
}

impl From<NotificationError> for Problem {
    fn from(e: NotificationError) -> Self {
        match e {
            NotificationError::UnknownLocale(_) => Problem::unprocessable("invalid-locale", e.to_string()),
            NotificationError::Denied(d) => d.into(),
            NotificationError::Store(s) => s.into(),
        }
    }
}

impl From<CheckinError> for Problem {
    fn from(e: CheckinError) -> Self {
        match e {
            CheckinError::BadInput => Problem::unprocessable("invalid-barcode", e.to_string()),
            CheckinError::Denied(d) => d.into(),
            CheckinError::Store(s) => s.into(),
        }
    }
}

impl From<WebhookError> for Problem {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Denied(d) => d.into(),
            WebhookError::Store(s) => s.into(),
            other => Problem::unprocessable("invalid-webhook", other.to_string()),
        }
    }
}

impl From<GateError> for Problem {
    fn from(e: GateError) -> Self {
        match e {
            GateError::Denied(d) => d.into(),
            GateError::Store(s) => s.into(),
            other => Problem::unprocessable("invalid-sync", other.to_string()),
        }
    }
}

impl From<ticketing::fees::FeeSettingsError> for Problem {
    fn from(e: ticketing::fees::FeeSettingsError) -> Self {
        use ticketing::fees::FeeSettingsError;
        match e {
            FeeSettingsError::Denied(d) => d.into(),
            FeeSettingsError::Store(s) => s.into(),
            FeeSettingsError::Invalid(e) => Problem::unprocessable("invalid-fee", e.to_string()),
        }
    }
}

impl From<ticketing::fees::PayoutError> for Problem {
    fn from(e: ticketing::fees::PayoutError) -> Self {
        use ticketing::fees::PayoutError;
        match e {
            PayoutError::Denied(d) => d.into(),
            PayoutError::Store(s) => s.into(),
        }
    }
}

impl From<ticketing::push::PushSubscriptionError> for Problem {
    fn from(e: ticketing::push::PushSubscriptionError) -> Self {
        use ticketing::push::PushSubscriptionError;
        match e {
            PushSubscriptionError::Denied(d) => d.into(),
            PushSubscriptionError::Store(s) => s.into(),
            PushSubscriptionError::TooMany => Problem::conflict("too-many-push-subscriptions", e.to_string()),
            other => Problem::unprocessable("invalid-push-subscription", other.to_string()),
        }
    }
}
