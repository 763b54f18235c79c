//! API integration tests: one binary, one module per area. Each test starts
//! its own server with a fresh database and talks to it over real HTTP.

mod helpers;
mod node;

mod audit;
mod authorization;
mod availability;
mod backup;
mod bad_input;
mod checkin;
mod events;
mod fees;
mod gate;
mod holds;
mod ledger;
mod loadtest;
mod mail;
mod openapi;
mod orders;
mod payments;
mod payouts;
mod push;
mod refunds;
mod resale;
mod reschedule;
mod restart;
mod rotating;
mod team;
mod transfers;
mod waiting_room;
