//! `robust-ticketing`: the server and its operator commands.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use robust_ticketing::{BIND_DEFAULT, Config, DATABASE_URL_DEFAULT};
use ticketing::{Payments, SystemClock, TestGateway};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "robust-ticketing", version, about = "Ticketing that never oversells.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (loads demo data into an empty database unless --no-demo).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
}

#[derive(clap::Args)]
struct DatabaseArgs {
    /// sqlite://PATH (created if missing).
    #[arg(long, env = "DATABASE_URL", default_value = DATABASE_URL_DEFAULT)]
    database_url: String,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = BIND_DEFAULT)]
    bind: SocketAddr,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Do not load demo data into an empty database.
    #[arg(long, env = "NO_DEMO")]
    no_demo: bool,
    /// How long a hold keeps seats for a buyer, in seconds.
    #[arg(long, env = "HOLD_TTL_SECS", default_value_t = domain::hold::HOLD_TTL_SECS_DEFAULT)]
    hold_ttl_secs: u64,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "LOG_JSON")]
    log_json: bool,
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
    match cli.command {
        Command::Migrate(db) => {
            init_tracing(false);
            let config = Config { database_url: db.database_url, ..Config::default() };
            robust_ticketing::build(&config, Arc::new(SystemClock), Payments::default()).await?;
            println!("database {} is up to date", config.database_url);
            Ok(())
        }
        Command::Serve(args) => {
            init_tracing(args.log_json);
            let config = Config {
                bind: args.bind,
                database_url: args.database.database_url,
                demo: !args.no_demo,
                hold_ttl_secs: args.hold_ttl_secs,
                ..Config::default()
            };
            let payments = Payments::default().with(Arc::new(TestGateway::default()));
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
