// The migrations are embedded by `sqlx::migrate!`; a migration added or
// changed must rebuild the crate, not only a change to its Rust code.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
