//! Nodes: registering one, looking them up, node events and status changes.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Node, NodeEvent, NodePool, World, new_id, now_ns};

impl World {
    pub fn add_node(&mut self, datacenter: &str, cpu: u64, memory: u64) -> String {
        self.add_node_with(datacenter, "default", "", cpu, memory)
    }

    /// Registers a node in a pool and class. A pool Nomad does not have yet is created
    /// with the node (`state_store_node_pools.go` fetchOrCreateNodePoolTxn: the name
    /// only, at the node's index).
    pub fn add_node_with(
        &mut self,
        datacenter: &str,
        pool: &str,
        class: &str,
        cpu: u64,
        memory: u64,
    ) -> String {
        let index = self.bump();
        if !self.node_pools.contains_key(pool) {
            self.node_pools.insert(
                pool.to_string(),
                NodePool {
                    name: pool.into(),
                    description: String::new(),
                    meta: BTreeMap::new(),
                    create_index: index,
                    modify_index: index,
                },
            );
        }
        let n = self.nodes.len() + 1;
        let now = now_ns();
        let node = Node {
            id: new_id(),
            name: format!("fake-node-{n}"),
            datacenter: datacenter.into(),
            address: format!("10.0.0.{}", 10 + n),
            cpu,
            memory,
            disk: 100_000,
            status: "ready".into(),
            eligibility: "eligible".into(),
            drain: None,
            last_drain: None,
            meta: BTreeMap::new(),
            static_meta: BTreeMap::from([("rack".to_string(), format!("r{}", 1 + n % 2))]),
            pool: pool.into(),
            class: class.into(),
            events: vec![NodeEvent {
                message: "Node registered".into(),
                subsystem: "Cluster".into(),
                details: BTreeMap::new(),
                at: now,
                index,
            }],
            status_updated_at: now / 1_000_000_000,
            create_index: index,
            modify_index: index,
        };
        let id = node.id.clone();
        let payload = json!({"Node": crate::render::node(&node)});
        self.nodes.push(node);
        self.emit("Node", "NodeRegistration", &id, "", payload);
        self.retry_blocked();
        id
    }

    pub fn node_mut(&mut self, id: &str) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.id == id)
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    pub fn node_event(&mut self, node_id: &str, topic_kind: &str, message: &str) {
        self.node_event_in(node_id, topic_kind, "Cluster", message, BTreeMap::new());
    }

    /// A node event of a subsystem (`structs.NodeEventSubsystem*`: `Cluster`, `Drain`,
    /// ...), with details.
    pub fn node_event_in(
        &mut self,
        node_id: &str,
        topic_kind: &str,
        subsystem: &str,
        message: &str,
        details: BTreeMap<String, String>,
    ) {
        let index = self.bump();
        if let Some(node) = self.node_mut(node_id) {
            node.modify_index = index;
            node.events.push(NodeEvent {
                message: message.into(),
                subsystem: subsystem.into(),
                details,
                at: now_ns(),
                index,
            });
            let payload = json!({"Node": crate::render::node(node)});
            self.emit("Node", topic_kind, node_id, "", payload);
        }
    }

    pub fn set_node_status(&mut self, node_id: &str, status: &str) {
        let Some(node) = self.node_mut(node_id) else {
            return;
        };
        node.status = status.into();
        node.status_updated_at = now_ns() / 1_000_000_000;
        self.node_event(
            node_id,
            "NodeEvent",
            &format!("Node status changed to {status}"),
        );
        if status == "down" {
            let lost: Vec<String> = self
                .allocs
                .values()
                .filter(|a| a.node_id == node_id && a.holds_resources())
                .map(|a| a.id.clone())
                .collect();
            for id in lost {
                self.finish_alloc(&id, "lost", "alloc is lost since its node is down");
            }
            let jobs: Vec<(String, String)> = self
                .allocs
                .values()
                .filter(|a| a.node_id == node_id)
                .map(|a| (a.namespace.clone(), a.job_id.clone()))
                .collect();
            for (ns, job) in jobs {
                self.evaluate(&ns, &job, "node-update", Some(node_id));
            }
        } else {
            self.retry_blocked();
        }
    }
}
