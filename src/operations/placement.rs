//! Plain-language explanations of why Nomad could not place allocations, from an
//! evaluation's `FailedTGAllocs` metrics (`structs.AllocMetric`).
//!
//! The metric counts nodes at each stage of the scheduler's funnel: in the pool and ready
//! per datacenter (`NodesAvailable`), removed by class or constraint (`ClassFiltered`,
//! `ConstraintFiltered`), and left without room (`NodesExhausted`, with the resource that
//! ran out in `DimensionExhausted`). See `scheduler/feasible/` and `scheduler/rank.go`.

use std::collections::BTreeMap;

use crate::nomad::types::{AllocMetric, Job};

/// What a task group asked for, summed over its tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupAsk {
    pub cpu_mhz: i64,
    pub memory_mb: i64,
}

/// What each task group of `job` asks for. Tasks without resources get Nomad's defaults
/// (`structs.DefaultResources`: 100 MHz, 300 MB).
pub fn asks_of(job: &Job) -> BTreeMap<String, GroupAsk> {
    job.task_groups
        .iter()
        .map(|group| {
            let ask = group.tasks.iter().fold(GroupAsk::default(), |sum, task| {
                let resources = task.resources.clone().unwrap_or_default();
                GroupAsk {
                    cpu_mhz: sum.cpu_mhz + resources.cpu.unwrap_or(100),
                    memory_mb: sum.memory_mb + resources.memory_mb.unwrap_or(300),
                }
            });
            (group.name.clone(), ask)
        })
        .collect()
}

fn nodes(n: u64) -> String {
    if n == 1 {
        "1 node".to_string()
    } else {
        format!("{n} nodes")
    }
}

fn datacenter_list(metric: &AllocMetric) -> String {
    let names: Vec<&str> = metric.nodes_available.keys().map(String::as_str).collect();
    match names.as_slice() {
        [] => "the job's datacenters".to_string(),
        [one] => format!("datacenter {one}"),
        many => format!("datacenters {}", many.join(", ")),
    }
}

/// What a resource dimension needs, in the words an operator uses.
fn need(dimension: &str, ask: GroupAsk) -> String {
    match dimension {
        "memory" => format!("{} MB free memory", ask.memory_mb),
        "cpu" => format!("{} MHz free CPU", ask.cpu_mhz),
        other => format!("free {other}"),
    }
}

/// One sentence per cause, most decisive first.
pub fn explain(group: &str, metric: &AllocMetric, ask: GroupAsk) -> Vec<String> {
    let mut sentences = Vec::new();
    let unplaced = metric.coalesced_failures + 1;
    let ready: u64 = metric.nodes_available.values().sum();
    let where_ = datacenter_list(metric);
    if ready == 0 {
        sentences.push(format!(
            "no node is ready in {where_} (node pool size {}): group '{group}' has nowhere to run",
            metric.nodes_in_pool
        ));
    }
    for (dimension, count) in &metric.dimension_exhausted {
        sentences.push(format!(
            "no node in {where_} has {}; {} exhausted on {dimension}",
            need(dimension, ask),
            nodes(*count)
        ));
    }
    for (constraint, count) in &metric.constraint_filtered {
        sentences.push(format!(
            "{} filtered out by constraint {constraint}",
            nodes(*count)
        ));
    }
    for (class, count) in &metric.class_filtered {
        sentences.push(format!(
            "{} of node class '{class}' filtered out",
            nodes(*count)
        ));
    }
    for quota in &metric.quota_exhausted {
        sentences.push(format!("namespace quota exhausted: {quota}"));
    }
    if sentences.is_empty() && metric.nodes_exhausted > 0 {
        sentences.push(format!(
            "{} had no room for group '{group}'",
            nodes(metric.nodes_exhausted)
        ));
    }
    if sentences.is_empty() {
        sentences.push(format!(
            "{} evaluated, {} filtered; Nomad gave no specific reason",
            nodes(metric.nodes_evaluated),
            nodes(metric.nodes_filtered)
        ));
    }
    sentences.insert(
        0,
        format!(
            "{unplaced} allocation{} of group '{group}' could not be placed",
            if unplaced == 1 { "" } else { "s" }
        ),
    );
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn metric() -> AllocMetric {
        AllocMetric {
            nodes_evaluated: 3,
            nodes_in_pool: 3,
            nodes_available: BTreeMap::from([("dc1".to_string(), 3)]),
            nodes_exhausted: 3,
            dimension_exhausted: BTreeMap::from([("memory".to_string(), 3)]),
            ..Default::default()
        }
    }

    #[test]
    fn exhausted_memory_names_the_amount_and_the_datacenter() {
        let ask = GroupAsk {
            cpu_mhz: 500,
            memory_mb: 4096,
        };
        let text = explain("web", &metric(), ask);
        assert_eq!(text[0], "1 allocation of group 'web' could not be placed");
        assert_eq!(
            text[1],
            "no node in datacenter dc1 has 4096 MB free memory; 3 nodes exhausted on memory"
        );
    }

    #[test]
    fn no_ready_node_is_said_first() {
        let mut m = AllocMetric::default();
        m.nodes_available.insert("dc9".into(), 0);
        m.coalesced_failures = 2;
        let text = explain("cache", &m, GroupAsk::default());
        assert_eq!(
            text[0],
            "3 allocations of group 'cache' could not be placed"
        );
        assert!(
            text[1].starts_with("no node is ready in datacenter dc9"),
            "{text:?}"
        );
    }

    #[test]
    fn constraints_and_classes_are_listed() {
        let mut m = metric();
        m.dimension_exhausted.clear();
        m.constraint_filtered
            .insert("${attr.kernel.name} = windows".into(), 2);
        m.class_filtered.insert("gpu".into(), 1);
        let text = explain("g", &m, GroupAsk::default()).join("\n");
        assert!(
            text.contains("2 nodes filtered out by constraint ${attr.kernel.name} = windows"),
            "{text}"
        );
        assert!(
            text.contains("1 node of node class 'gpu' filtered out"),
            "{text}"
        );
    }
}
