//! Registering the volumes a test starts the fake with.

use super::{CsiVolumeRecord, HostVolumeRecord, World, now_ns};
use crate::volumes::{CsiVolume, HostVolume};

impl World {
    fn check_namespace(&self, kind: &str, id: &str, namespace: &str) {
        assert!(
            self.namespaces.contains_key(namespace),
            "fake-nomad: {kind} volume {id:?} is in namespace {namespace:?}, which the fake \
             does not have (add it to Options::namespaces)"
        );
    }

    pub fn add_csi_volume(&mut self, spec: CsiVolume) {
        self.check_namespace("CSI", &spec.id, &spec.namespace);
        let index = self.bump();
        let key = (spec.namespace.clone(), spec.id.clone());
        self.csi_volumes.insert(
            key,
            CsiVolumeRecord {
                spec,
                create_index: index,
                modify_index: index,
                create_time: now_ns(),
            },
        );
    }

    pub fn add_host_volume(&mut self, spec: HostVolume) {
        self.check_namespace("host", &spec.id, &spec.namespace);
        let Some(node) = self.nodes.get(spec.node) else {
            panic!(
                "fake-nomad: host volume {:?} names node {}, but the fake has {} nodes",
                spec.name,
                spec.node,
                self.nodes.len()
            );
        };
        let (node_id, node_pool) = (node.id.clone(), node.pool.clone());
        let index = self.bump();
        let key = (spec.namespace.clone(), spec.id.clone());
        self.host_volumes.insert(
            key,
            HostVolumeRecord {
                spec,
                node_id,
                node_pool,
                create_index: index,
                modify_index: index,
                create_time: now_ns(),
            },
        );
    }
}
