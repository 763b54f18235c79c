//! Backup and restore, for both backends.
//!
//! SQLite: `backup` writes a consistent copy with `VACUUM INTO` while the
//! server keeps selling; `restore` copies it into place (the target must not
//! exist). PostgreSQL: `pg_dump --format=custom` and `pg_restore` (from the
//! PostgreSQL client tools) into an empty database.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail, ensure};
use store::Backend;

fn sqlite_path(url: &str) -> anyhow::Result<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).context("not a SQLite URL")?;
    Ok(rest.split('?').next().unwrap_or_default())
}

pub async fn backup(url: &str, to: &Path) -> anyhow::Result<()> {
    ensure!(!to.exists(), "{} exists already; choose a new file", to.display());
    match Backend::of_url(url)? {
        Backend::Sqlite => {
            let path = sqlite_path(url)?;
            ensure!(Path::new(path).exists(), "no database at {path}");
            let store = store::Store::connect(url).await?;
            store.backup_sqlite_to(to).await?;
            store.close().await;
        }
        Backend::Postgres => {
            let status = Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(to)
                .arg(url)
                .status()
                .context("cannot run pg_dump: install the PostgreSQL client tools")?;
            ensure!(status.success(), "pg_dump failed ({status})");
        }
    }
    Ok(())
}

pub async fn restore(url: &str, from: &Path) -> anyhow::Result<()> {
    ensure!(from.exists(), "no backup at {}", from.display());
    match Backend::of_url(url)? {
        Backend::Sqlite => {
            let path = sqlite_path(url)?;
            if Path::new(path).exists() {
                bail!("{path} exists already: restore into a new file, then point DATABASE_URL at it");
            }
            if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::copy(from, path).with_context(|| format!("cannot copy {} to {path}", from.display()))?;
            // Opening applies any migrations newer than the backup.
            store::Store::connect(url).await?.close().await;
        }
        Backend::Postgres => {
            let status = Command::new("pg_restore")
                .args(["--no-owner", "--exit-on-error", "--dbname"])
                .arg(url)
                .arg(from)
                .status()
                .context("cannot run pg_restore: install the PostgreSQL client tools")?;
            ensure!(status.success(), "pg_restore failed ({status})");
            store::Store::connect(url).await?.close().await;
        }
    }
    Ok(())
}
