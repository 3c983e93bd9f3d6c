//! `plinth zt verify`: one connection decided over manifests with exact NetworkPolicy
//! semantics. Exit 0 allowed, 1 denied, 2 bad input.

use std::net::IpAddr;

use anyhow::{Context, anyhow};
use plinth_netpol::{Endpoint, Index, IpBlockMode, PortQuery, Protocol};
use serde_json::json;

use super::Outcome;
use crate::cli::{Format, IpBlockModeArg, ZtCommand, ZtVerifyArgs};
use crate::output;

/// Runs `plinth zt ...`.
pub fn run(command: ZtCommand) -> anyhow::Result<Outcome> {
    match command {
        ZtCommand::Verify(args) => verify(&args),
    }
}

fn endpoint(index: &Index, flag: &str, value: &str) -> anyhow::Result<Endpoint> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        // A pod's IP is that pod: its own policies apply to it.
        return Ok(index.endpoint_for_ip(ip));
    }
    if !value.contains('/') {
        return Err(anyhow!(
            "--{flag} {value:?} is neither NAMESPACE/POD nor an IP address"
        ));
    }
    let pod = index.pod(value).with_context(|| format!("--{flag}"))?;
    Ok(Endpoint::Pod(pod))
}

fn port(value: &str) -> anyhow::Result<(PortQuery, Protocol)> {
    let (port, protocol) = match value.split_once('/') {
        Some((p, proto)) => (
            p,
            proto.to_ascii_uppercase().parse().map_err(|_| {
                anyhow!("--port {value:?}: protocol {proto:?} is not one of TCP, UDP, SCTP")
            })?,
        ),
        None => (value, Protocol::Tcp),
    };
    let query = match port.parse::<u16>() {
        Ok(0) => return Err(anyhow!("--port {value:?}: port 0 is not a port")),
        Ok(n) => PortQuery::Number(n),
        Err(_) if plinth_netpol::policy::valid_port_name(port) => PortQuery::Name(port.to_owned()),
        Err(_) => {
            return Err(anyhow!(
                "--port {value:?} is not a port number (1-65535) or a container port name"
            ));
        }
    };
    Ok((query, protocol))
}

fn verify(args: &ZtVerifyArgs) -> anyhow::Result<Outcome> {
    let (query, protocol) = port(&args.port)?;
    let docs = plinth_core::manifest::read_paths(&args.manifests).map_err(|e| anyhow!("{e}"))?;
    let mode = match args.ip_block_mode {
        IpBlockModeArg::PodIps => IpBlockMode::PodIps,
        IpBlockModeArg::ExternalOnly => IpBlockMode::ExternalOnly,
    };
    let index = plinth_netpol::manifests::index(&docs, mode).map_err(super::manifest_errors)?;
    let from = endpoint(&index, "from", &args.from)?;
    let to = endpoint(&index, "to", &args.to)?;
    let verdict = index.verify(from, to, &query, protocol)?;
    let reasons = verdict.reasons();
    match args.output {
        Format::Json => output::json(&json!({
            "allowed": verdict.allowed,
            "reasons": reasons,
            "from": args.from,
            "to": args.to,
            "port": verdict.port,
            "protocol": verdict.protocol,
            "egress": verdict.egress,
            "ingress": verdict.ingress,
            "ipBlockMode": verdict.ip_block_mode,
        })),
        Format::Table => {
            output::line(format!(
                "{} → {} port {}/{}: {}",
                args.from,
                args.to,
                verdict.port,
                verdict.protocol,
                if verdict.allowed { "ALLOWED" } else { "DENIED" }
            ));
            for r in reasons {
                output::line(format!("  {r}"));
            }
        }
    }
    Ok(if verdict.allowed {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}
