//! `fake-nomad --listen ADDR [--tls-cert F --tls-key F [--client-ca F]] [--token SECRET ...]
//! [--nodes N] [--node-cpu MHZ --node-memory MB] [--namespace NS ...] [--datacenter DC ...]
//! [--latency-ms N] [--error-rate R] [--drop-rate R]`
//!
//! Prints `listening on ADDR` when ready and serves until killed. With no `--token`
//! ACLs are off; each `--token` is a management token.

use std::net::SocketAddr;
use std::process::ExitCode;

use fake_nomad::{FakeNomad, Options, TlsOptions, Token};

fn usage(problem: &str) -> ExitCode {
    eprintln!("fake-nomad: {problem}");
    eprintln!(
        "usage: fake-nomad --listen ADDR [--tls-cert F --tls-key F [--client-ca F]] [--token SECRET ...] \
         [--nodes N] [--node-cpu MHZ --node-memory MB] [--namespace NS ...] [--datacenter DC ...] \
         [--latency-ms N] [--error-rate R] [--drop-rate R]"
    );
    ExitCode::from(2)
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn parse() -> Result<(SocketAddr, Options), String> {
    let mut options = Options::default();
    let mut listen: SocketAddr = "127.0.0.1:4646".parse().expect("valid");
    let (mut cert, mut key, mut client_ca) = (None, None, None);
    let mut datacenters = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: {v:?} is not a number"))
        };
        let rate = |v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("{flag}: {v:?} is not a rate between 0 and 1"))
        };
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                listen = v
                    .parse()
                    .map_err(|_| format!("--listen: {v:?} is not host:port"))?;
            }
            "--tls-cert" => cert = Some(read(&value()?)?),
            "--tls-key" => key = Some(read(&value()?)?),
            "--client-ca" => client_ca = Some(read(&value()?)?),
            "--token" => options.tokens.push(Token::management(&value()?)),
            "--nodes" => options.nodes = number(value()?)? as usize,
            "--node-cpu" => options.node_cpu = number(value()?)?,
            "--node-memory" => options.node_memory = number(value()?)?,
            "--namespace" => options.namespaces.push(value()?),
            "--datacenter" => datacenters.push(value()?),
            "--latency-ms" => options.faults.latency_ms = number(value()?)?,
            "--error-rate" => options.faults.error_rate = rate(value()?)?,
            "--drop-rate" => options.faults.drop_rate = rate(value()?)?,
            "-h" | "--help" => return Err("help".into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !datacenters.is_empty() {
        options.datacenters = datacenters;
    }
    options.tls = match (cert, key) {
        (Some(cert_pem), Some(key_pem)) => Some(TlsOptions {
            cert_pem,
            key_pem,
            client_ca_pem: client_ca,
        }),
        (None, None) if client_ca.is_none() => None,
        _ => {
            return Err("--tls-cert and --tls-key go together (and --client-ca needs both)".into());
        }
    };
    Ok((listen, options))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (listen, options) = match parse() {
        Ok(p) => p,
        Err(problem) => return usage(&problem),
    };
    let fake = match FakeNomad::bind(listen, options).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fake-nomad: cannot listen on {listen}: {e}");
            return ExitCode::from(1);
        }
    };
    println!("listening on {}", fake.addr());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
