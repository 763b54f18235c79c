//! End-to-end tests of the web app in a real headless Chromium, driven over
//! WebDriver (Debian's `chromium` and `chromium-driver`; run
//! `scripts/install-browser.sh` first). Each test starts its own server.

mod helpers;
mod webdriver;

mod buyer;
mod gate;
mod organizer;
mod quality;
mod rotating;
mod waiting_room;
