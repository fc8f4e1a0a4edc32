//! The fake's state: nodes, jobs and their versions, evaluations, allocations,
//! deployments, namespaces, Nomad Variables (`variables.rs`) and the event log, all under
//! one Raft-like index; native services and their checks follow from the allocations
//! (`services.rs`).
//!
//! This file holds the world itself, its index, namespaces and event log, and the
//! task that moves the simulation along.

mod allocs;
mod clock;
mod jobs;
mod nodes;
mod records;
mod services;
mod variables;
mod volumes;

use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Options;

pub use clock::{new_id, now_ns, rfc3339};
pub use records::*;
pub use services::{CheckResult, Registration};
pub use variables::{VarOutcome, Variable};

#[derive(Clone)]
pub struct World {
    pub index: u64,
    pub nodes: Vec<Node>,
    pub jobs: BTreeMap<(String, String), JobRecord>,
    pub evals: BTreeMap<String, Eval>,
    pub allocs: BTreeMap<String, Alloc>,
    pub deployments: BTreeMap<String, Deployment>,
    pub namespaces: BTreeMap<String, Namespace>,
    /// Node pools by name.
    pub node_pools: BTreeMap<String, NodePool>,
    /// Scaling policies by ID.
    pub scaling_policies: BTreeMap<String, ScalingPolicy>,
    /// CSI volumes by (namespace, ID), the order of Nomad's `csi_volumes` table.
    pub csi_volumes: BTreeMap<(String, String), CsiVolumeRecord>,
    /// Dynamic host volumes by (namespace, ID).
    pub host_volumes: BTreeMap<(String, String), HostVolumeRecord>,
    /// Nomad Variables by (namespace, path), the order Nomad's state store keeps them in.
    pub variables: BTreeMap<(String, String), Variable>,
    /// The index of the last write to the variables (Nomad's `variables` table index).
    pub variables_index: u64,
    pub events: Vec<Event>,
    pub step: Duration,
}

impl World {
    pub fn new(options: &Options) -> World {
        let mut world = World {
            index: 1,
            nodes: Vec::new(),
            jobs: BTreeMap::new(),
            evals: BTreeMap::new(),
            allocs: BTreeMap::new(),
            deployments: BTreeMap::new(),
            namespaces: BTreeMap::new(),
            node_pools: BTreeMap::new(),
            scaling_policies: BTreeMap::new(),
            csi_volumes: BTreeMap::new(),
            host_volumes: BTreeMap::new(),
            variables: BTreeMap::new(),
            variables_index: 0,
            events: Vec::new(),
            step: options.step,
        };
        // The built-in node pools, which Nomad's state store writes at index 1
        // (`state_store_node_pools.go` nodePoolInit).
        for (name, description) in [
            ("all", "Node pool with all nodes in the cluster."),
            ("default", "Default node pool."),
        ] {
            world.node_pools.insert(
                name.to_string(),
                NodePool {
                    name: name.into(),
                    description: description.into(),
                    meta: BTreeMap::new(),
                    create_index: 1,
                    modify_index: 1,
                },
            );
        }
        world.add_namespace("default", "Default shared namespace");
        for ns in &options.namespaces {
            world.add_namespace(ns, "");
        }
        let dcs = if options.datacenters.is_empty() {
            vec!["dc1".to_string()]
        } else {
            options.datacenters.clone()
        };
        for i in 0..options.nodes {
            let pick = |list: &[String], default: &str| {
                if list.is_empty() {
                    default.to_string()
                } else {
                    list[i % list.len()].clone()
                }
            };
            world.add_node_with(
                &dcs[i % dcs.len()],
                &pick(&options.node_pools, "default"),
                &pick(&options.node_classes, ""),
                options.node_cpu,
                options.node_memory,
            );
        }
        for volume in &options.csi_volumes {
            world.add_csi_volume(volume.clone());
        }
        for volume in &options.host_volumes {
            world.add_host_volume(volume.clone());
        }
        world
    }

    pub fn bump(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    pub fn add_namespace(&mut self, name: &str, description: &str) {
        let index = self.bump();
        self.namespaces.insert(
            name.to_string(),
            Namespace {
                name: name.into(),
                description: description.into(),
                create_index: index,
                modify_index: index,
            },
        );
    }

    pub fn emit(&mut self, topic: &str, kind: &str, key: &str, namespace: &str, payload: Value) {
        let index = self.index;
        // As Nomad's `eventFromChange` sets them (nomad/state/events.go).
        let ids = |object: &str, fields: &[&str]| -> Vec<String> {
            fields
                .iter()
                .filter_map(|f| payload[object][*f].as_str())
                .filter(|id| !id.is_empty())
                .map(String::from)
                .collect()
        };
        let filter_keys = match topic {
            "Allocation" => ids("Allocation", &["JobID", "DeploymentID"]),
            "Evaluation" => ids("Evaluation", &["JobID", "DeploymentID"]),
            "Deployment" => ids("Deployment", &["JobID"]),
            _ => Vec::new(),
        };
        self.events.push(Event {
            topic: topic.into(),
            kind: kind.into(),
            key: key.into(),
            namespace: namespace.into(),
            filter_keys,
            index,
            payload,
        });
        if self.events.len() > 20_000 {
            self.events.drain(..10_000);
        }
    }

    pub fn is_settled(&self) -> bool {
        // Deployments move only when their allocations do, so these are enough.
        self.allocs.values().all(|a| a.next_step.is_none())
    }
}

/// Moves the simulation along: allocations start, run, crash and finish; deployments
/// count healthy allocations and finish.
pub fn spawn_lifecycle(shared: Weak<crate::Shared>) {
    tokio::spawn(async move {
        loop {
            let step = match shared.upgrade() {
                Some(s) => s.step,
                None => return,
            };
            tokio::time::sleep(step / 4).await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            shared.change(|w| w.tick(Instant::now()));
        }
    });
}
