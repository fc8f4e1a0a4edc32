//! A stateful stand-in for the Nomad HTTP API, for the gateway's tests and benchmarks.
//!
//! It keeps jobs, evaluations, allocations, deployments and nodes, runs a small scheduler
//! with CPU and memory accounting, moves allocations through their lifecycle on a timer,
//! registers the Nomad-native services of running allocations and reports their checks,
//! serves task logs, the event stream and blocking queries, keeps Nomad Variables with
//! their check-and-set rules, enforces ACL tokens, and can inject faults. It also answers
//! prefix search, the caller's token, node pools and purges, volumes (CSI and dynamic host
//! volumes given in `Options`), scaling policies (from the groups' `Scaling` blocks),
//! deployment pause, unblock and allocation health, and allocation stats and signals.
//! Responses follow the shapes of Nomad's documented samples; the gateway's fidelity test
//! compares them key by key.
//!
//! Task behaviour is chosen through the job: a task whose `image`, `command` or `args`
//! mention `crash`, or whose meta has `fake_nomad_behavior = "crash"`, exits with code 1
//! after starting, restarts per its restart policy and then fails; one with
//! `fake_nomad_behavior = "stuck"` never starts (its allocation stays pending); one with
//! `fake_nomad_behavior = "busy"` runs until it is stopped, even in a batch job. Meta
//! `fake_nomad_log_bytes` (on the task, its group or the job; a decimal byte count) makes
//! the task's stdout that many bytes long, computed from the offsets so a large log costs
//! nothing until read; meta `fake_nomad_log_lines_per_second` makes a running task add that
//! many lines a second to its stdout; meta `fake_nomad_check = "failing"` makes the Nomad service checks
//! below it fail.

// Handlers return early with a ready `Response` as their error; boxing it buys nothing.
#![allow(clippy::result_large_err)]

mod acl;
mod api;
mod faults;
mod hcl;
mod jobspec;
mod logs;
mod render;
mod scheduler;
mod tls;
mod volumes;
mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

pub use acl::{Capability, Token};
pub use faults::{FaultKind, Faults};
pub use volumes::{CsiVolume, HostVolume};

/// How the fake starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// Number of client nodes, all ready and eligible.
    pub nodes: usize,
    /// Datacenters the nodes are spread over, round robin.
    pub datacenters: Vec<String>,
    /// Node pools the nodes are spread over, round robin like `datacenters`; empty puts
    /// every node in `default`. A pool other than the built-in `all` and `default` comes
    /// into being when its first node registers, as Nomad creates it (no description, no
    /// meta). Jobs are placed only on the nodes of their `NodePool` (`all`: any node).
    pub node_pools: Vec<String>,
    /// Node classes (`NodeClass`), round robin; empty leaves every node without one.
    pub node_classes: Vec<String>,
    pub node_cpu: u64,
    pub node_memory: u64,
    /// Namespaces besides `default`.
    pub namespaces: Vec<String>,
    /// ACL tokens; empty means ACLs are off.
    pub tokens: Vec<Token>,
    /// CSI volumes registered at start (their namespace must be `default` or one of
    /// `namespaces`).
    pub csi_volumes: Vec<CsiVolume>,
    /// Dynamic host volumes created at start on the nodes they name.
    pub host_volumes: Vec<HostVolume>,
    pub tls: Option<TlsOptions>,
    pub faults: Faults,
    /// Time between lifecycle steps (pending → running, restarts, health).
    pub step: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            nodes: 3,
            datacenters: vec!["dc1".into()],
            node_pools: Vec::new(),
            node_classes: Vec::new(),
            node_cpu: 4000,
            node_memory: 8192,
            namespaces: Vec::new(),
            tokens: Vec::new(),
            csi_volumes: Vec::new(),
            host_volumes: Vec::new(),
            tls: None,
            faults: Faults::default(),
            step: Duration::from_millis(100),
        }
    }
}

/// Serve HTTPS with this certificate; require client certificates signed by `client_ca`.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub cert_pem: String,
    pub key_pem: String,
    pub client_ca_pem: Option<String>,
}

/// One request as the fake saw it, for assertions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    /// Whether an `X-Nomad-Token` header came with it (never the value).
    pub had_token: bool,
    /// For log reads: the byte range of the log that was served.
    pub log_range: Option<(u64, u64)>,
    /// The `traceparent` header, when one came.
    pub traceparent: Option<String>,
}

pub(crate) struct Shared {
    pub world: Mutex<world::World>,
    pub index: watch::Sender<u64>,
    pub requests: Mutex<Vec<RequestRecord>>,
    pub faults: Mutex<Faults>,
    pub tokens: Vec<Token>,
    pub step: Duration,
    /// Event streams open now (`/v1/event/stream`).
    pub event_streams: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// Runs a change against the world and wakes blocking queries if the index moved.
    pub fn change<T>(&self, f: impl FnOnce(&mut world::World) -> T) -> T {
        let mut world = self.world.lock().unwrap_or_else(|p| p.into_inner());
        let before = world.index;
        let out = f(&mut world);
        let after = world.index;
        drop(world);
        if after != before {
            self.index.send_replace(after);
        }
        out
    }

    pub fn read<T>(&self, f: impl FnOnce(&world::World) -> T) -> T {
        let world = self.world.lock().unwrap_or_else(|p| p.into_inner());
        f(&world)
    }

    pub fn record(&self, record: RequestRecord) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        if requests.len() >= 100_000 {
            requests.drain(..50_000);
        }
        requests.push(record);
    }
}

/// A running fake Nomad. Dropping it stops the server.
pub struct FakeNomad {
    addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    handle: axum_server::Handle<SocketAddr>,
}

impl FakeNomad {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(options: Options) -> FakeNomad {
        FakeNomad::bind("127.0.0.1:0".parse().unwrap(), options)
            .await
            .expect("starting the fake Nomad")
    }

    /// Starts on `addr`.
    pub async fn bind(addr: SocketAddr, options: Options) -> std::io::Result<FakeNomad> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let world = world::World::new(&options);
        let (index, _) = watch::channel(world.index);
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            index,
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(options.faults.clone()),
            tokens: options.tokens.clone(),
            step: options.step,
            event_streams: Default::default(),
        });
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let app = api::router(shared.clone()).into_make_service();
        let handle = axum_server::Handle::new();
        let tls = options.tls.is_some();
        match &options.tls {
            Some(tls) => {
                let config = tls::server_config(tls).map_err(std::io::Error::other)?;
                let server = axum_server::from_tcp_rustls(listener, config)?.handle(handle.clone());
                tokio::spawn(async move {
                    let _ = server.serve(app).await;
                });
            }
            None => {
                let server = axum_server::from_tcp(listener)?.handle(handle.clone());
                tokio::spawn(async move {
                    let _ = server.serve(app).await;
                });
            }
        }
        world::spawn_lifecycle(Arc::downgrade(&shared));
        Ok(FakeNomad {
            addr,
            tls,
            shared,
            handle,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` or `https://...`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Every request served so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many `/v1/event/stream` requests are being answered now.
    pub fn open_event_streams(&self) -> usize {
        self.shared
            .event_streams
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn clear_requests(&self) {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }

    /// The current Raft index.
    pub fn index(&self) -> u64 {
        self.shared.read(|w| w.index)
    }

    /// Moves the index without any other change (as an unrelated write would).
    pub fn bump_index(&self) -> u64 {
        self.shared.change(|w| w.bump())
    }

    /// Node IDs, in creation order.
    pub fn node_ids(&self) -> Vec<String> {
        self.shared
            .read(|w| w.nodes.iter().map(|n| n.id.clone()).collect())
    }

    /// Adds a ready node and lets blocked evaluations retry.
    /// Registers a node; evaluations blocked for room are tried again, as a node
    /// registration unblocks them in Nomad (`Node.Register`, `blockedEvals.Unblock`).
    pub fn add_node(&self, datacenter: &str, cpu: u64, memory: u64) -> String {
        self.shared.change(|w| {
            let id = w.add_node(datacenter, cpu, memory);
            w.retry_blocked();
            id
        })
    }

    /// Adds a ready node in a node pool (created if it is new, as Nomad does when a node
    /// registers in it) and lets blocked evaluations retry.
    pub fn add_node_in_pool(&self, datacenter: &str, pool: &str, cpu: u64, memory: u64) -> String {
        self.shared
            .change(|w| w.add_node_with(datacenter, pool, "", cpu, memory))
    }

    /// Moves the creation and modification times of a job's allocations `by` into the
    /// past, as if they had been placed that long ago (an allocation pending for minutes).
    pub fn backdate_allocations(&self, job_id: &str, by: Duration) {
        let by = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.shared.change(|w| {
            for alloc in w.allocs.values_mut().filter(|a| a.job_id == job_id) {
                alloc.create_time -= by;
                alloc.modify_time -= by;
            }
        });
    }

    /// Marks a node down (its allocations become lost) or ready again.
    pub fn set_node_status(&self, node_id: &str, status: &str) {
        self.shared.change(|w| w.set_node_status(node_id, status));
    }

    /// Writes a Nomad Variable as `PUT /v1/var/:path` would without a token or `cas`, and
    /// returns its ModifyIndex. Panics with Nomad's message if Nomad would refuse it (an
    /// invalid or reserved path, no Items, more than 64 KiB).
    pub fn set_variable(&self, namespace: &str, path: &str, items: &[(&str, &str)]) -> u64 {
        let items = items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match self
            .shared
            .change(|w| w.set_variable(namespace, path, items, None))
        {
            world::VarOutcome::Done(Some(v)) => v.modify_index,
            other => panic!("fake-nomad: variable {namespace}/{path} not written: {other:?}"),
        }
    }

    /// Runs the lifecycle until nothing is pending, for tests that want a settled state.
    pub async fn settle(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.shared.read(|w| w.is_settled()) {
                return;
            }
            tokio::time::sleep(self.shared.step / 2).await;
        }
    }

    pub async fn shutdown(self) {
        self.handle.shutdown();
    }
}

impl Drop for FakeNomad {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}
