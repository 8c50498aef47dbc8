//! `warden serve`: the HTTP server until SIGTERM or Ctrl-C.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, anyhow, bail};
use tokio::sync::watch;
use tracing::{info, warn};
use warden_auth::{AuthService, Clock, SystemClock};
use warden_server::{AppState, ServerConfig};

use crate::config::{Context, DEFAULT_BIND};
use crate::keystore;

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(ctx: Context, bind: Option<String>) -> anyhow::Result<()> {
    let bind = bind
        .or_else(|| ctx.server.BIND.clone())
        .unwrap_or_else(|| DEFAULT_BIND.to_string());
    if ctx.is_postgres() && ctx.settings.SIGNING_KEY.is_none() {
        bail!(
            "a PostgreSQL database is shared by several nodes, which must sign with the same key: \
             set SIGNING_KEY (and VERIFYING_KEY for asymmetric algorithms) in the config file \
             given to every node"
        );
    }
    // Checked before the store or the keys are touched, so a refused start
    // leaves nothing behind. The default ALLOWED_HOSTS needs the bound port
    // (port 0 works), so the socket is bound here, and served once all is up.
    let config = ctx
        .server
        .server_config()
        .map_err(|e| anyhow!("invalid server setting {e}"))?;
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let allowed_hosts = config.allowed_hosts.bind(addr)?;
    let config = ServerConfig {
        allowed_hosts,
        ..config
    };
    let now = SystemClock.now();

    let (db, store) = {
        let ctx = ctx.clone();
        tokio::task::spawn_blocking(move || ctx.open_store())
            .await
            .map_err(|e| anyhow!("internal error: {e}"))??
    };
    let (backend, keys) = keystore::load_or_create(&ctx, &db, now).await?;
    let mut ring = keystore::ring_for_serving(&ctx, keys, now)?;
    // Counts failed logins under hashes keyed by it; kept where the keys are.
    if let Some(secret) = warden_embedded::keystore::identifier_secret(&backend).await? {
        ring = ring.with_identifier_secret(secret);
    }
    info!(
        database = %db.display(),
        keys = %keystore::describe(&backend),
        kid = ring.active().kid(),
        alg = ring.active().alg().as_str(),
        "signing keys loaded"
    );
    let settings = ctx.settings.clone();
    let service = tokio::task::spawn_blocking(move || {
        AuthService::new(settings, store, Arc::new(SystemClock), ring)
    })
    .await
    .map_err(|e| anyhow!("internal error: {e}"))??;
    let service = Arc::new(service);

    // Revocations other nodes (or `warden sessions revoke` and friends) write
    // reach this node through the store's revocation feed. Caught up once
    // before the socket opens; from then on the node fails closed (503) while
    // it cannot read the feed.
    let follow = ctx.server.follow_settings(ctx.is_postgres());
    let follower = {
        let service = Arc::clone(&service);
        tokio::task::spawn_blocking(move || {
            let mut follower = warden_auth::feed::FeedFollower::new(service, follow);
            follower.start().map(|_| follower)
        })
        .await
        .map_err(|e| anyhow!("internal error: {e}"))?
        .context("cannot read the revocation feed")?
    };
    info!(
        cursor = follower.cursor(),
        poll_ms = u64::try_from(follow.poll.as_millis()).unwrap_or(u64::MAX),
        stale_after_ms = u64::try_from(follow.stale_after.as_millis()).unwrap_or(u64::MAX),
        "following the revocation feed"
    );
    let feed_stop = Arc::new(AtomicBool::new(false));
    let feed = follower
        .spawn(Arc::clone(&feed_stop))
        .context("cannot start the revocation feed thread")?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let signal = shutdown_signal()?;
    tokio::spawn(async move {
        let signal = signal.await;
        info!(signal, "shutting down");
        let _ = stop_tx.send(true);
    });

    let flush = tokio::spawn(warden_server::flush_loop(
        Arc::clone(&service),
        ctx.server.flush_interval(),
        stop_rx.clone(),
    ));

    let or_none = |s: String| if s.is_empty() { "none".to_string() } else { s };
    info!(
        allowed_hosts = %config.allowed_hosts,
        cors_allowed_origins = %or_none(
            config
                .cors_allowed_origins
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        trusted_proxies = %or_none(config.trusted_proxies.to_string()),
        "HTTP guards"
    );
    let state = AppState::new(service, config);
    let server = tokio::spawn(warden_server::serve(
        listener,
        state,
        stopped(stop_rx.clone()),
    ));

    // Tests and scripts read this line for the port; print it only once the
    // socket is accepting.
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "warden listening on http://{addr}")?;
        out.flush()?;
    }
    info!(%addr, "listening");

    let mut server = server;
    let served = tokio::select! {
        r = &mut server => Some(r),
        () = stopped(stop_rx.clone()) => None,
    };
    let served = match served {
        Some(r) => Some(r),
        None => match tokio::time::timeout(DRAIN_TIMEOUT, &mut server).await {
            Ok(r) => Some(r),
            Err(_) => {
                warn!(
                    seconds = DRAIN_TIMEOUT.as_secs(),
                    "requests still running after the drain timeout; exiting anyway"
                );
                server.abort();
                None
            }
        },
    };
    if let Some(r) = served {
        r.map_err(|e| anyhow!("the server task failed: {e}"))?
            .context("the server stopped")?;
    }
    if tokio::time::timeout(Duration::from_secs(2), flush)
        .await
        .is_err()
    {
        warn!("the flush job did not stop in time");
    }
    feed_stop.store(true, Ordering::Relaxed);
    // It notices within one poll interval; do not hold the exit up for it.
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::task::spawn_blocking(move || feed.join()),
    )
    .await;
    info!("stopped");
    Ok(())
}

/// Resolves once the shutdown flag is set (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Registers the handlers now, so that a signal arriving right after the
/// "listening" line is already ours; the future resolves to the signal's name.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = &'static str>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(_) => std::future::pending().await,
            }
        })
    }
}
