//! Allocation resource usage, `cstructs.AllocResourceUsage` (`client/structs/structs.go`
//! at 1.11.2), as a client's stats reporter answers it. The numbers are derived from each
//! task's asked resources, so tests can assert them:
//! - memory: `RSS` a quarter of `MemoryMB` (in bytes), `Cache` a sixteenth, `Usage`
//!   their sum, `MaxUsage` `Usage` plus another sixteenth, no swap or kernel memory;
//! - CPU: `TotalTicks` (MHz in use) a quarter of the task's `CPU`, `Percent` that share
//!   of one of the node's four cores (`TotalTicks / (node CPU / 4) * 100`), no user or
//!   system split and no throttling (the docker driver measures throttling and percent).
//!
//! As `allocrunner.LatestAllocStats` does, `Tasks` has every task that has started (a
//! task that has stopped keeps its last sample, stamped when it finished) and the
//! allocation's `ResourceUsage` adds up the running ones only; `task` keeps one task.

use serde_json::{Map, Value, json};

use crate::world::*;

const MIB: u64 = 1024 * 1024;
const MEMORY_MEASURED: [&str; 5] = ["RSS", "Cache", "Swap", "Usage", "Max Usage"];
const CPU_MEASURED: [&str; 3] = ["Throttled Periods", "Throttled Time", "Percent"];

#[derive(Default, Clone, Copy)]
struct Usage {
    rss: u64,
    cache: u64,
    usage: u64,
    max_usage: u64,
    ticks: f64,
    percent: f64,
}

impl Usage {
    fn of(task: &TaskState, core_mhz: f64) -> Usage {
        let bytes = task.memory * MIB;
        let (rss, cache) = (bytes / 4, bytes / 16);
        let ticks = task.cpu as f64 / 4.0;
        Usage {
            rss,
            cache,
            usage: rss + cache,
            max_usage: rss + cache + bytes / 16,
            ticks,
            percent: ticks / core_mhz * 100.0,
        }
    }

    fn add(&mut self, other: &Usage) {
        self.rss += other.rss;
        self.cache += other.cache;
        self.usage += other.usage;
        self.max_usage += other.max_usage;
        self.ticks += other.ticks;
        self.percent += other.percent;
    }

    fn json(&self, device_stats: Value, measured: bool) -> Value {
        let list = |l: &[&str]| if measured { json!(l) } else { Value::Null };
        json!({
            "MemoryStats": {
                "RSS": self.rss, "Cache": self.cache, "Swap": 0, "MappedFile": 0,
                "Usage": self.usage, "MaxUsage": self.max_usage, "KernelUsage": 0,
                "KernelMaxUsage": 0, "Measured": list(&MEMORY_MEASURED)
            },
            "CpuStats": {
                "SystemMode": 0.0, "UserMode": 0.0, "TotalTicks": self.ticks,
                "ThrottledPeriods": 0, "ThrottledTime": 0, "Percent": self.percent,
                "Measured": list(&CPU_MEASURED)
            },
            "DeviceStats": device_stats
        })
    }
}

pub fn alloc_stats(world: &World, alloc: &Alloc, task_filter: &str) -> Value {
    let core_mhz = world
        .node(&alloc.node_id)
        .map(|n| n.cpu as f64 / 4.0)
        .filter(|c| *c > 0.0)
        .unwrap_or(1000.0);
    let now = now_ns();
    let mut total = Usage::default();
    let mut running = false;
    let mut timestamp = 0;
    let mut tasks = Map::new();
    for (name, state) in &alloc.tasks {
        if !task_filter.is_empty() && task_filter != name {
            continue;
        }
        if state.started_at.is_none() {
            continue;
        }
        let usage = Usage::of(state, core_mhz);
        let at = if state.state == "running" {
            now
        } else {
            state.finished_at.unwrap_or(now)
        };
        if state.state == "running" {
            total.add(&usage);
            running = true;
            timestamp = timestamp.max(at);
        }
        tasks.insert(
            name.clone(),
            json!({"ResourceUsage": usage.json(Value::Null, true), "Timestamp": at, "Pids": null}),
        );
    }
    json!({
        "ResourceUsage": total.json(json!([]), running),
        "Tasks": tasks,
        "Timestamp": timestamp
    })
}
