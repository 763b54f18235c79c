//! `robust-ticketing`: the server and its operator commands.
//!
//! Settings come from, in order of precedence: command-line flags, the
//! environment, a TOML configuration file (`--config`, or
//! `robust-ticketing.toml` in the working directory when present), then
//! built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use robust_ticketing::{Config, audit, ops};
use serde::Deserialize;
use ticketing::accounts::PasswordHashing;
use ticketing::{Payments, SystemClock, TestGateway};
use tracing_subscriber::EnvFilter;

// An on-sale allocates and frees small buffers on every request from many
// threads at once; glibc's allocator spent about a seventh of the CPU of a
// measured sale in malloc and free (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONFIG_FILE_DEFAULT: &str = "robust-ticketing.toml";

#[derive(Parser)]
#[command(name = "robust-ticketing", version, about = "Ticketing that never oversells.")]
struct Cli {
    /// TOML configuration file (default: ./robust-ticketing.toml if it exists).
    #[arg(long, env = "CONFIG_FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (loads demo data into an empty database unless --no-demo).
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Write a consistent backup while the server keeps selling.
    Backup {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The backup file to create (SQLite file, or pg_dump custom format).
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup into an empty database (stop the servers first).
    Restore {
        #[command(flatten)]
        database: DatabaseArgs,
        /// A file written by `backup`.
        #[arg(long)]
        from: PathBuf,
    },
    /// List background jobs, failed ones by default.
    Jobs {
        #[command(flatten)]
        database: DatabaseArgs,
        /// pending, running, done, failed, or all.
        #[arg(long, default_value = "failed")]
        status: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Simulate an on-sale over real HTTP and report throughput, latency and the oversell check.
    Loadtest {
        /// Target a running server instead of starting one in this process.
        #[arg(long)]
        url: Option<String>,
        /// Database of the in-process server (default: a temporary SQLite file).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        #[arg(long, default_value_t = 1_000)]
        buyers: usize,
        #[arg(long, default_value_t = 500)]
        seats: usize,
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Pause between hold and payment, in milliseconds.
        #[arg(long, default_value_t = 50)]
        think_ms: u64,
        /// Measure availability of a big event instead: --readers clients read
        /// the compact availability of a --seats event while --buyers keep buying.
        #[arg(long)]
        availability: bool,
        /// Clients reading availability (with --availability).
        #[arg(long, default_value_t = 64)]
        readers: usize,
        /// How long the availability run lasts, in seconds (with --availability).
        #[arg(long, default_value_t = 10)]
        duration_secs: u64,
    },
    /// Audit the public ownership log of a server, or witness its tree heads.
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Check the tree head signature, every leaf against the signed root, the
    /// inclusion of tickets' histories, and consistency with a saved head.
    Verify {
        /// The server, e.g. https://tickets.example.org
        #[arg(long)]
        server: String,
        /// JSON file with the last verified tree head: checked against, then updated.
        #[arg(long)]
        state: Option<PathBuf>,
        /// A ticket id whose whole history is proven included (repeatable).
        #[arg(long = "ticket")]
        tickets: Vec<String>,
    },
    /// Record the server's tree head in a witness store, refusing a forked log.
    Witness {
        #[arg(long)]
        server: String,
        /// Directory of recorded heads (sth-<size>.json, latest.json).
        #[arg(long)]
        store: PathBuf,
    },
    /// Cross-check two witness stores: detects a log that showed them
    /// different histories.
    Compare {
        #[arg(long)]
        server: String,
        /// Two witness directories.
        #[arg(long = "store", num_args = 2, required = true)]
        stores: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct DatabaseArgs {
    /// sqlite://PATH (created if missing) or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Stripe secret key (sk_...): enables the gateway `stripe`.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
    stripe_secret_key: Option<String>,
    /// Stripe's API base URL [default: https://api.stripe.com].
    #[arg(long, env = "STRIPE_API_BASE")]
    stripe_api_base: Option<String>,
    /// Stripe webhook signing secret (whsec_...) for /api/v1/payments/stripe/webhook.
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    stripe_webhook_secret: Option<String>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "BIND")]
    bind: Option<SocketAddr>,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Do not load demo data into an empty database.
    #[arg(long, env = "NO_DEMO")]
    no_demo: bool,
    /// How long a hold keeps seats for a buyer, in seconds [default: 600].
    #[arg(long, env = "HOLD_TTL_SECS")]
    hold_ttl_secs: Option<u64>,
    /// PostgreSQL connections of this process [default: 10].
    #[arg(long, env = "POSTGRES_CONNECTIONS_MAX")]
    postgres_connections_max: Option<u32>,
    /// Do not work the background job queue in this process.
    #[arg(long, env = "NO_JOBS")]
    no_jobs: bool,
    /// Seconds a claimed job stays claimed before another process may take it over [default: 60].
    #[arg(long, env = "JOB_LEASE_SECS")]
    job_lease_secs: Option<u64>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "LOG_JSON")]
    log_json: bool,
    /// SMTP server for e-mail: smtp://host:port, smtps://host:port, with
    /// optional user:password@ (unset: messages queue and are not sent).
    #[arg(long, env = "SMTP_URL")]
    smtp_url: Option<String>,
    /// The From address of e-mail [default: RobustTicketing <tickets@localhost>].
    #[arg(long, env = "MAIL_FROM")]
    mail_from: Option<String>,
    /// Folder of e-mail templates (<locale>/<message>.{subject,txt,html}) overriding the built-in ones.
    #[arg(long, env = "MAIL_TEMPLATES_DIR")]
    mail_templates_dir: Option<PathBuf>,
    /// The web app's public address, for links in e-mail [default: http://BIND].
    #[arg(long, env = "PUBLIC_URL")]
    public_url: Option<String>,
    /// Web push contact for push services (VAPID `sub`): mailto: or https: [default: mailto:webmaster@localhost].
    #[arg(long, env = "VAPID_SUBJECT")]
    vapid_subject: Option<String>,
    /// Web push private key, base64url of a P-256 scalar (unset: generated on first start and kept in the database).
    #[arg(long, env = "VAPID_PRIVATE_KEY", hide_env_values = true)]
    vapid_private_key: Option<String>,
    /// API requests a second per client address, sustained; 0 switches the limit off [default: 50].
    #[arg(long, env = "RATE_LIMIT_IP_PER_SECOND")]
    rate_limit_ip_per_second: Option<u32>,
    /// API requests one address may send at once before its rate applies [default: 100].
    #[arg(long, env = "RATE_LIMIT_IP_BURST")]
    rate_limit_ip_burst: Option<u32>,
    /// Holds, orders and waiting-room joins a minute per account; 0 switches the limit off [default: 60].
    #[arg(long, env = "RATE_LIMIT_ACCOUNT_PER_MINUTE")]
    rate_limit_account_per_minute: Option<u32>,
    /// ... and how many of them at once [default: 10].
    #[arg(long, env = "RATE_LIMIT_ACCOUNT_BURST")]
    rate_limit_account_burst: Option<u32>,
    /// Sign-ins, sign-ups and password requests a minute per client address; 0 switches the limit off [default: 20].
    #[arg(long, env = "RATE_LIMIT_SIGN_IN_PER_MINUTE")]
    rate_limit_sign_in_per_minute: Option<u32>,
    /// ... and how many of them at once [default: 10].
    #[arg(long, env = "RATE_LIMIT_SIGN_IN_BURST")]
    rate_limit_sign_in_burst: Option<u32>,
    /// Take the client address from X-Forwarded-For (only behind a reverse proxy that sets it).
    #[arg(long, env = "TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// Let webhooks and push messages go to loopback and private addresses
    /// (a closed network; by default only public addresses are reached).
    #[arg(long, env = "ALLOW_PRIVATE_OUTBOUND")]
    allow_private_outbound: bool,
    /// Let only accounts that confirmed their address accept tickets passed
    /// on to it in the app; others accept with the offer's mailed link.
    #[arg(long, env = "TRANSFERS_NEED_CONFIRMED_ADDRESS")]
    transfers_need_confirmed_address: bool,
    /// Argon2id memory per password hash, in KiB [default: 19456, the OWASP minimum].
    #[arg(long, env = "ARGON2_MEMORY_KIB")]
    argon2_memory_kib: Option<u32>,
    /// Argon2id passes per password hash [default: 2].
    #[arg(long, env = "ARGON2_ITERATIONS")]
    argon2_iterations: Option<u32>,
}

/// The configuration file: every key optional, the same names as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<SocketAddr>,
    database_url: Option<String>,
    demo: Option<bool>,
    hold_ttl_secs: Option<u64>,
    postgres_connections_max: Option<u32>,
    jobs: Option<bool>,
    job_lease_secs: Option<u64>,
    log_json: Option<bool>,
    argon2_memory_kib: Option<u32>,
    argon2_iterations: Option<u32>,
    rate_limit_ip_per_second: Option<u32>,
    rate_limit_ip_burst: Option<u32>,
    rate_limit_account_per_minute: Option<u32>,
    rate_limit_account_burst: Option<u32>,
    rate_limit_sign_in_per_minute: Option<u32>,
    rate_limit_sign_in_burst: Option<u32>,
    trust_forwarded_for: Option<bool>,
    allow_private_outbound: Option<bool>,
    transfers_need_confirmed_address: Option<bool>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    mail_templates_dir: Option<PathBuf>,
    public_url: Option<String>,
    vapid_subject: Option<String>,
    vapid_private_key: Option<String>,
    /// Stripe accounts, `[[stripe]]` tables.
    stripe: Option<Vec<robust_ticketing::StripeSettings>>,
}

fn read_config_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let (path, required) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(CONFIG_FILE_DEFAULT), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("invalid configuration file {}", path.display())),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read configuration file {}", path.display())),
    }
}

fn database_url(args: DatabaseArgs, file: &FileConfig) -> String {
    args.database_url
        .or_else(|| file.database_url.clone())
        .unwrap_or_else(|| robust_ticketing::DATABASE_URL_DEFAULT.to_owned())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let file = read_config_file(cli.config.as_deref())?;
    match cli.command {
        Command::Migrate(db) => {
            init_tracing(false);
            let config = Config { database_url: database_url(db, &file), run_jobs: false, ..Config::default() };
            robust_ticketing::build(&config, Arc::new(SystemClock), Payments::default()).await?;
            println!("database {} is up to date", config.database_url);
            Ok(())
        }
        Command::Backup { database, to } => {
            init_tracing(false);
            let url = database_url(database, &file);
            ops::backup(&url, &to).await?;
            println!("backup of {url} written to {}", to.display());
            Ok(())
        }
        Command::Restore { database, from } => {
            init_tracing(false);
            let url = database_url(database, &file);
            ops::restore(&url, &from).await?;
            println!("{} restored into {url}", from.display());
            Ok(())
        }
        Command::Jobs { database, status, limit } => {
            init_tracing(false);
            let config = Config { database_url: database_url(database, &file), ..Config::default() };
            let app = robust_ticketing::build(&config, Arc::new(SystemClock), Payments::default()).await?;
            let status = match status.as_str() {
                "all" => None,
                "pending" | "running" | "done" | "failed" => Some(status.as_str()),
                other => bail!("unknown job status '{other}': pending, running, done, failed or all"),
            };
            let jobs = app.store().jobs(status, limit).await?;
            if jobs.is_empty() {
                println!("no jobs");
            }
            for j in jobs {
                println!(
                    "{}  {:<16} {:<8} attempts {}/{}  next {}  {}",
                    j.id,
                    j.kind,
                    j.status,
                    j.attempts,
                    j.max_attempts,
                    j.run_at.to_rfc3339(),
                    j.last_error.unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Ledger(LedgerCommand::Verify { server, state, tickets }) => {
            let report = audit::verify(&server, state.as_deref(), &tickets).await;
            for line in report.lines() {
                println!("{line}");
            }
            let failed = report.failures().count();
            if failed > 0 {
                bail!("the log at {server} does not verify: {failed} check(s) failed");
            }
            println!("the log at {server} verifies");
            Ok(())
        }
        Command::Ledger(LedgerCommand::Witness { server, store }) => {
            let witness = audit::FileWitness::new(&store)?;
            match audit::witness(&server, &witness).await? {
                audit::WitnessOutcome::First(head) => {
                    println!("ok: first tree head of this log recorded on trust: {}", head.describe())
                }
                audit::WitnessOutcome::Extended { from, to } => {
                    println!("ok: {} proven to extend {}; recorded", to.describe(), from.describe())
                }
                audit::WitnessOutcome::Unchanged(head) => println!("ok: unchanged since {}", head.describe()),
            }
            Ok(())
        }
        Command::Ledger(LedgerCommand::Compare { server, stores }) => {
            let (a, b) = (audit::FileWitness::new(&stores[0])?, audit::FileWitness::new(&stores[1])?);
            match audit::compare_witnesses(&server, &a, &b).await? {
                None => {
                    println!("ok: both witnesses saw one history");
                    Ok(())
                }
                Some(why) => bail!("FAILED: the log forked: {why}"),
            }
        }
        Command::Loadtest { url, database_url, seats, readers, duration_secs, buyers, availability: true, .. } => {
            init_tracing(false);
            let report = robust_ticketing::loadtest::run_availability(robust_ticketing::loadtest::AvailabilityConfig {
                url,
                database_url,
                seats,
                readers,
                buyers,
                duration: std::time::Duration::from_secs(duration_secs),
            })
            .await?;
            print!("{report}");
            Ok(())
        }
        Command::Loadtest { url, database_url, buyers, seats, concurrency, think_ms, .. } => {
            init_tracing(false);
            let report = robust_ticketing::loadtest::run(robust_ticketing::loadtest::LoadConfig {
                url,
                database_url,
                buyers,
                seats,
                concurrency,
                think: std::time::Duration::from_millis(think_ms),
                ceiling_requests: robust_ticketing::loadtest::CEILING_REQUESTS_DEFAULT,
            })
            .await?;
            print!("{report}");
            Ok(())
        }
        Command::Serve(args) => {
            let log_json = args.log_json || file.log_json.unwrap_or(false);
            init_tracing(log_json);
            let defaults = Config::default();
            let password_hashing = PasswordHashing {
                memory_kib: args
                    .argon2_memory_kib
                    .or(file.argon2_memory_kib)
                    .unwrap_or(defaults.password_hashing.memory_kib),
                iterations: args
                    .argon2_iterations
                    .or(file.argon2_iterations)
                    .unwrap_or(defaults.password_hashing.iterations),
            };
            if password_hashing.memory_kib < PasswordHashing::default().memory_kib {
                tracing::warn!(memory_kib = password_hashing.memory_kib, "argon2 memory is below the OWASP minimum");
            }
            let config = Config {
                password_hashing,
                bind: args.bind.or(file.bind).unwrap_or(defaults.bind),
                database_url: database_url(args.database, &file),
                demo: !args.no_demo && file.demo.unwrap_or(true),
                hold_ttl_secs: args.hold_ttl_secs.or(file.hold_ttl_secs).unwrap_or(defaults.hold_ttl_secs),
                postgres_connections_max: args
                    .postgres_connections_max
                    .or(file.postgres_connections_max)
                    .unwrap_or(defaults.postgres_connections_max),
                run_jobs: !args.no_jobs && file.jobs.unwrap_or(true),
                job_lease_secs: args.job_lease_secs.or(file.job_lease_secs).unwrap_or(defaults.job_lease_secs),
                rate_limits: web::limits::RateLimitConfig {
                    ip_per_second: args
                        .rate_limit_ip_per_second
                        .or(file.rate_limit_ip_per_second)
                        .unwrap_or(defaults.rate_limits.ip_per_second),
                    ip_burst: args
                        .rate_limit_ip_burst
                        .or(file.rate_limit_ip_burst)
                        .unwrap_or(defaults.rate_limits.ip_burst),
                    account_per_minute: args
                        .rate_limit_account_per_minute
                        .or(file.rate_limit_account_per_minute)
                        .unwrap_or(defaults.rate_limits.account_per_minute),
                    account_burst: args
                        .rate_limit_account_burst
                        .or(file.rate_limit_account_burst)
                        .unwrap_or(defaults.rate_limits.account_burst),
                    sign_in_per_minute: args
                        .rate_limit_sign_in_per_minute
                        .or(file.rate_limit_sign_in_per_minute)
                        .unwrap_or(defaults.rate_limits.sign_in_per_minute),
                    sign_in_burst: args
                        .rate_limit_sign_in_burst
                        .or(file.rate_limit_sign_in_burst)
                        .unwrap_or(defaults.rate_limits.sign_in_burst),
                    trust_forwarded_for: args.trust_forwarded_for || file.trust_forwarded_for.unwrap_or(false),
                },
                outbound: if args.allow_private_outbound || file.allow_private_outbound.unwrap_or(false) {
                    ticketing::outbound::OutboundPolicy::AllowPrivate
                } else {
                    ticketing::outbound::OutboundPolicy::PublicOnly
                },
                transfers_need_confirmed_address: args.transfers_need_confirmed_address
                    || file.transfers_need_confirmed_address.unwrap_or(false),
                mail: ticketing::mail::MailSettings {
                    smtp_url: args.smtp_url.or(file.smtp_url.clone()),
                    from: args.mail_from.or(file.mail_from.clone()).unwrap_or(defaults.mail.from.clone()),
                    templates_dir: args.mail_templates_dir.or(file.mail_templates_dir.clone()),
                    public_url: args
                        .public_url
                        .or(file.public_url.clone())
                        .unwrap_or_else(|| format!("http://{}", args.bind.or(file.bind).unwrap_or(defaults.bind))),
                },
                push: ticketing::push::PushSettings {
                    subject: args
                        .vapid_subject
                        .clone()
                        .or(file.vapid_subject.clone())
                        .unwrap_or(defaults.push.subject.clone()),
                    private_key: args.vapid_private_key.clone().or(file.vapid_private_key.clone()),
                },
                ..defaults
            };
            let mut stripe = file.stripe.clone().unwrap_or_default();
            if let Some(secret_key) = args.stripe_secret_key.clone() {
                // Flags and environment take precedence over the file's `stripe`.
                stripe.retain(|s| s.name.as_deref().unwrap_or("stripe") != "stripe");
                stripe.push(robust_ticketing::StripeSettings {
                    name: Some("stripe".to_owned()),
                    secret_key,
                    api_base: args.stripe_api_base.clone(),
                    webhook_secret: args.stripe_webhook_secret.clone(),
                    timeout_secs: None,
                });
            }
            let payments = robust_ticketing::payment_gateways(Arc::new(TestGateway::default()), &stripe)?;
            tracing::info!(gateways = %payments.names().join(", "), "payment gateways configured");
            let running = robust_ticketing::start(&config, Arc::new(SystemClock), payments).await?;
            if let Some(demo) = &running.demo {
                println!("{}", demo.credentials());
            }
            tracing::info!(addr = %running.addr, database = %config.database_url, "RobustTicketing is serving");
            println!(
                "RobustTicketing is serving on http://{}  (API: /api/v1, OpenAPI: /api/v1/openapi.json)",
                running.addr
            );
            running.serve_until(shutdown_signal()).await
        }
    }
}
