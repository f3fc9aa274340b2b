//! `im-revoke-server`: see `--help`.

use clap::Parser;
use im_revoke_server::auth::Auth;
use im_revoke_server::config::{secret_key, Cli, CliCommand, ServeArgs, UsersigArgs};
use im_revoke_server::ServerConfig;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc malloc: the server allocates and frees a frame per delivery, and
/// glibc's arena locks and consolidation were a sixth of its CPU under load (BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cli.command.unwrap_or(CliCommand::Serve(cli.serve)) {
        CliCommand::Serve(args) => serve(args),
        CliCommand::Usersig(args) => usersig(args),
    }
}

fn init_tracing() {
    let filter = EnvFilter::try_from_env("IMR_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn usersig(args: UsersigArgs) -> ExitCode {
    let key = match secret_key(&args.auth) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("im-revoke-server: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = im_revoke_core::model::check_user_id(&args.user) {
        eprintln!("im-revoke-server: {}", e.desc);
        return ExitCode::from(2);
    }
    let auth = Auth::new(args.auth.sdkappid, key);
    println!("{}", auth.mint(&args.user, args.expire));
    ExitCode::SUCCESS
}

fn serve(args: ServeArgs) -> ExitCode {
    let cfg = match ServerConfig::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("im-revoke-server: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("im-revoke-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(cfg))
}

async fn run(cfg: ServerConfig) -> ExitCode {
    tracing::info!("effective configuration:\n{cfg}");
    let banner = cfg.dev.then(|| cfg.clone());
    let server = match im_revoke_server::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(cfg) = banner {
        dev_banner(&cfg, server.local_addr());
    }
    // A stable line on stdout, for scripts and tests that start the binary on port 0.
    println!(
        "im-revoke-server listening on http://{}",
        server.local_addr()
    );
    let stop = server.stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: closing connections, committing the last batch");
        let _ = stop.send(true);
    });
    match server.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

fn dev_banner(cfg: &ServerConfig, addr: std::net::SocketAddr) {
    let key = if cfg.uses_dev_key() {
        "the PUBLIC built-in dev secret key"
    } else {
        "the configured secret key"
    };
    let line = "*".repeat(76);
    eprintln!(
        "\n{line}\n\
         **  DEV MODE — NOT FOR PRODUCTION\n\
         **  http://{addr}/dev/usersig?userID=... mints a UserSig for ANY user,\n\
         **  signed with {key}: anyone who can reach this\n\
         **  address can log in as anyone. Allowed on loopback addresses only.\n\
         {line}\n"
    );
}
