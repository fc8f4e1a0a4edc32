//! Nomad's job diff, `structs.Job.Diff` (`nomad/structs/diff.go` at 1.11.2, commit
//! a443448d), computed over the fake's JSON jobs. It answers `POST /v1/job/:id/plan` with
//! `"Diff": true` (`Job.Plan` calls `existingJob.Diff(args.Job, true)`) and
//! `GET /v1/job/:id/versions?diffs=true` (`Job.GetJobVersions` calls
//! `old.Diff(new, true)`).
//!
//! The shape: a `JobDiff` has `Fields` (the job's primitive fields), `Objects` (its
//! blocks: `Datacenters`, `Constraint`, `Periodic`...) and `TaskGroups`; a `TaskGroupDiff`
//! has `Fields`, `Objects` (`RestartPolicy`, `Update`, `Network`, `Service`...) and `Tasks`;
//! a `TaskDiff` has `Fields` and `Objects` (`Config`, `Resources`, `LogConfig`,
//! `Template`...); an `ObjectDiff` has `Fields` and `Objects` again. Empty lists are `null`
//! (Go's nil slices).
//!
//! Primitive fields come from `helper/flatmap.Flatten(obj, filter, true)`: a struct's
//! non-pointer scalar fields by name and its `map[string]string` fields as `Name[key]`,
//! numbers and booleans as their text; slices, pointers and nested structs are left out
//! (they are the `Objects`). So each struct below is described by its scalar and string
//! map fields, in Nomad 1.11.2's definitions; a field the fake's JSON lacks has Go's zero
//! value (`""`, `0`, `false`), and JSON keys Nomad's structs do not have are not diffed.
//! A task's driver config (and the other free-form maps) are flattened whole
//! (`Flatten(config, nil, false)`): `image`, `args[0]`, `auth[username]`, `null` as `nil`
//! and numbers as Go's `%v` of a float64.
//!
//! `contextual` keeps unchanged fields (Type `None`, Old == New) in the objects that are
//! listed; the job's, groups' and tasks' own `Fields` are never contextual (Nomad passes
//! `false` there), so an unchanged `Count` or `Driver` is not listed. An object that did
//! not change is not listed either way. Groups and tasks are all listed, unchanged ones
//! with Type `None`. Not diffed here: a service's Consul Connect block (`ConsulConnect`,
//! which the fake does not run); everything else `diff.go` diffs is.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    None,
    Added,
    Deleted,
    Edited,
}

impl Kind {
    fn text(self) -> &'static str {
        match self {
            Kind::None => "None",
            Kind::Added => "Added",
            Kind::Deleted => "Deleted",
            Kind::Edited => "Edited",
        }
    }

    /// `DiffType.Less` sorts Edited, then Added, then Deleted, then None.
    fn rank(self) -> u8 {
        match self {
            Kind::Edited => 0,
            Kind::Added => 1,
            Kind::Deleted => 2,
            Kind::None => 3,
        }
    }

    /// Added when only the new side is there, Deleted when only the old one, else Edited.
    fn of(old: Option<&Value>, new: Option<&Value>) -> Kind {
        match (old, new) {
            (None, _) => Kind::Added,
            (_, None) => Kind::Deleted,
            _ => Kind::Edited,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Field {
    kind: Kind,
    name: String,
    old: String,
    new: String,
}

#[derive(Clone, Debug, PartialEq)]
struct Object {
    kind: Kind,
    name: String,
    fields: Vec<Field>,
    objects: Vec<Object>,
}

type Flat = BTreeMap<String, String>;
type Objects = Vec<Object>;
/// The diff of one block, given its old and new sides (`None` for a missing one).
type BlockDiff<'a> = dyn Fn(Option<&Value>, Option<&Value>) -> Option<Object> + 'a;

// ---------------------------------------------------------------------------------------
// Fields

/// `fieldDiff`: nothing when equal (unless contextual), Added from "", Deleted to "".
fn field_diff(old: &str, new: &str, name: &str, contextual: bool) -> Option<Field> {
    let kind = if old == new {
        if !contextual {
            return None;
        }
        Kind::None
    } else if old.is_empty() {
        Kind::Added
    } else if new.is_empty() {
        Kind::Deleted
    } else {
        Kind::Edited
    };
    Some(Field {
        kind,
        name: name.to_string(),
        old: old.to_string(),
        new: new.to_string(),
    })
}

/// `fieldDiffs`, sorted by name (then old, then new) as `FieldDiffs` sorts.
fn field_diffs(old: &Flat, new: &Flat, contextual: bool) -> Vec<Field> {
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out: Vec<Field> = names
        .into_iter()
        .filter_map(|k| {
            let o = old.get(k).map_or("", String::as_str);
            let n = new.get(k).map_or("", String::as_str);
            field_diff(o, n, k, contextual)
        })
        .collect();
    sort_fields(&mut out);
    out
}

fn field_cmp(a: &Field, b: &Field) -> Ordering {
    (&a.name, &a.old, &a.new).cmp(&(&b.name, &b.old, &b.new))
}

fn sort_fields(fields: &mut [Field]) {
    fields.sort_by(field_cmp);
}

/// `ObjectDiff.Less`: by name, type, number of fields, number of objects, then contents.
fn object_cmp(a: &Object, b: &Object) -> Ordering {
    a.name
        .cmp(&b.name)
        .then(a.kind.rank().cmp(&b.kind.rank()))
        .then(a.fields.len().cmp(&b.fields.len()))
        .then(a.objects.len().cmp(&b.objects.len()))
        .then_with(|| {
            a.fields
                .iter()
                .zip(&b.fields)
                .map(|(x, y)| field_cmp(x, y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
        .then_with(|| {
            a.objects
                .iter()
                .zip(&b.objects)
                .map(|(x, y)| object_cmp(x, y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
}

fn sorted(mut objects: Objects) -> Objects {
    objects.sort_by(object_cmp);
    objects
}

/// The type `primitiveObjectDiff` (and a few others) derive from the fields: Edited when
/// one is edited or some are added and others deleted; no object when nothing changed.
fn kind_from_fields(fields: &[Field]) -> Option<Kind> {
    let has = |k: Kind| fields.iter().any(|f| f.kind == k);
    if has(Kind::Edited) || (has(Kind::Added) && has(Kind::Deleted)) {
        Some(Kind::Edited)
    } else if has(Kind::Added) {
        Some(Kind::Added)
    } else if has(Kind::Deleted) {
        Some(Kind::Deleted)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------
// Flattening

/// How a Go struct field flattens (`flatmap.Flatten` with `primitiveOnly`).
#[derive(Clone, Copy)]
enum P {
    /// A string.
    S,
    /// An integer (`time.Duration` included: nanoseconds).
    I,
    /// A boolean.
    B,
    /// A `map[string]string`, as `Name[key]`.
    M,
}
use P::{B, I, M, S};

/// A struct's scalar and string map fields; everything else is not a primitive field.
type Schema = &'static [(&'static str, P)];

// The structs of `nomad/structs` at 1.11.2, scalar fields only. Fields Nomad's diff
// filters are left out (named in comments).

/// `Job` (filtered: ID, Status, StatusDescription, Version, Stable, CreateIndex,
/// ModifyIndex, JobModifyIndex, Update, SubmitTime, NomadTokenID, VaultToken).
const JOB: Schema = &[
    ("Stop", B),
    ("Region", S),
    ("Namespace", S),
    ("ParentID", S),
    ("Name", S),
    ("Type", S),
    ("Priority", I),
    ("AllAtOnce", B),
    ("NodePool", S),
    ("Dispatched", B),
    ("DispatchIdempotencyToken", S),
    ("Meta", M),
    ("ConsulNamespace", S),
    ("VaultNamespace", S),
];
/// `TaskGroup` (filtered: Name; ShutdownDelay is a pointer, added by hand).
const GROUP: Schema = &[("Count", I), ("Meta", M), ("PreventRescheduleOnLost", B)];
/// `Task` (filtered: Name, Config).
const TASK: Schema = &[
    ("Driver", S),
    ("User", S),
    ("Env", M),
    ("Meta", M),
    ("KillTimeout", I),
    ("Leader", B),
    ("ShutdownDelay", I),
    ("KillSignal", S),
    ("Kind", S),
];
const RESOURCES: Schema = &[
    ("CPU", I),
    ("Cores", I),
    ("MemoryMB", I),
    ("MemoryMaxMB", I),
    ("DiskMB", I),
    ("IOPS", I),
    ("SecretsMB", I),
];
/// `NetworkResource` (filtered: Device, CIDR, IP, MBits).
const NETWORK: Schema = &[("Mode", S), ("Hostname", S)];
const PORT: Schema = &[
    ("Label", S),
    ("Value", I),
    ("To", I),
    ("HostNetwork", S),
    ("IgnoreCollision", B),
];
const DEVICE: Schema = &[("Name", S), ("Count", I)];
const NUMA: Schema = &[("Affinity", S)];
const RESTART: Schema = &[
    ("Attempts", I),
    ("Interval", I),
    ("Delay", I),
    ("Mode", S),
    ("RenderTemplates", B),
];
const RESCHEDULE: Schema = &[
    ("Attempts", I),
    ("Interval", I),
    ("Delay", I),
    ("DelayFunction", S),
    ("MaxDelay", I),
    ("Unlimited", B),
];
const MIGRATE: Schema = &[
    ("MaxParallel", I),
    ("HealthCheck", S),
    ("MinHealthyTime", I),
    ("HealthyDeadline", I),
];
const EPHEMERAL_DISK: Schema = &[("Sticky", B), ("SizeMB", I), ("Migrate", B)];
/// `UpdateStrategy` (filtered in a group's diff: Stagger).
const UPDATE: Schema = &[
    ("MaxParallel", I),
    ("HealthCheck", S),
    ("MinHealthyTime", I),
    ("HealthyDeadline", I),
    ("ProgressDeadline", I),
    ("AutoRevert", B),
    ("AutoPromote", B),
    ("Canary", I),
];
const CONSUL: Schema = &[("Namespace", S), ("Cluster", S), ("Partition", S)];
const LOG_CONFIG: Schema = &[("MaxFiles", I), ("MaxFileSizeMB", I), ("Disabled", B)];
const CONSTRAINT: Schema = &[("LTarget", S), ("RTarget", S), ("Operand", S)];
const AFFINITY: Schema = &[
    ("LTarget", S),
    ("RTarget", S),
    ("Operand", S),
    ("Weight", I),
];
const PERIODIC: Schema = &[
    ("Enabled", B),
    ("Spec", S),
    ("SpecType", S),
    ("ProhibitOverlap", B),
    ("TimeZone", S),
];
const PARAMETERIZED: Schema = &[("Payload", S)];
const DISPATCH_PAYLOAD: Schema = &[("File", S)];
const ARTIFACT: Schema = &[
    ("GetterSource", S),
    ("GetterOptions", M),
    ("GetterHeaders", M),
    ("GetterMode", S),
    ("GetterInsecure", B),
    ("RelativeDest", S),
    ("Chown", B),
];
/// `Template` (Uid and Gid are pointers, added by hand).
const TEMPLATE: Schema = &[
    ("SourcePath", S),
    ("DestPath", S),
    ("EmbeddedTmpl", S),
    ("ChangeMode", S),
    ("ChangeSignal", S),
    ("Once", B),
    ("Splay", I),
    ("Perms", S),
    ("LeftDelim", S),
    ("RightDelim", S),
    ("Envvars", B),
    ("VaultGrace", I),
    ("ErrMissingKey", B),
];
const CHANGE_SCRIPT: Schema = &[("Command", S), ("Timeout", I), ("FailOnError", B)];
const VAULT: Schema = &[
    ("Role", S),
    ("Namespace", S),
    ("Cluster", S),
    ("Env", B),
    ("DisableFile", B),
    ("ChangeMode", S),
    ("ChangeSignal", S),
    ("AllowTokenExpiration", B),
];
const SERVICE: Schema = &[
    ("Name", S),
    ("TaskName", S),
    ("PortLabel", S),
    ("AddressMode", S),
    ("Address", S),
    ("EnableTagOverride", B),
    ("Meta", M),
    ("CanaryMeta", M),
    ("TaggedAddresses", M),
    ("Namespace", S),
    ("OnUpdate", S),
    ("Provider", S),
    ("Cluster", S),
    ("Kind", S),
];
const CHECK: Schema = &[
    ("Name", S),
    ("Type", S),
    ("Command", S),
    ("Path", S),
    ("Protocol", S),
    ("PortLabel", S),
    ("Expose", B),
    ("AddressMode", S),
    ("Interval", I),
    ("Timeout", I),
    ("InitialStatus", S),
    ("Notes", S),
    ("TLSServerName", S),
    ("TLSSkipVerify", B),
    ("Method", S),
    ("GRPCService", S),
    ("GRPCUseTLS", B),
    ("TaskName", S),
    ("SuccessBeforePassing", I),
    ("FailuresBeforeCritical", I),
    ("FailuresBeforeWarning", I),
    ("Body", S),
    ("OnUpdate", S),
];
const CHECK_RESTART: Schema = &[("Limit", I), ("Grace", I), ("IgnoreWarnings", B)];
const IDENTITY: Schema = &[
    ("Name", S),
    ("ChangeMode", S),
    ("ChangeSignal", S),
    ("Env", B),
    ("File", B),
    ("Filepath", S),
    ("ServiceName", S),
    ("TTL", I),
];
const VOLUME: Schema = &[
    ("Name", S),
    ("Type", S),
    ("Source", S),
    ("ReadOnly", B),
    ("Sticky", B),
    ("AccessMode", S),
    ("AttachmentMode", S),
    ("PerAlloc", B),
];
const MOUNT_OPTIONS: Schema = &[("FSType", S)];
const VOLUME_MOUNT: Schema = &[
    ("Volume", S),
    ("Destination", S),
    ("ReadOnly", B),
    ("PropagationMode", S),
    ("SELinuxLabel", S),
];
/// `ScalingPolicy` (filtered: CreateIndex, ModifyIndex, ID, Type, and the Job, Group and
/// Namespace of its Target).
const SCALING: Schema = &[("Target", M), ("Min", I), ("Max", I), ("Enabled", B)];
const ACTION: Schema = &[("Name", S), ("Command", S)];
const CRON: Schema = &[("Start", S), ("End", S), ("Timezone", S)];
const MULTIREGION_STRATEGY: Schema = &[("MaxParallel", I), ("OnFailure", S)];
const REGION: Schema = &[("Name", S), ("Count", I), ("NodePool", S), ("Meta", M)];
const UI: Schema = &[("Description", S)];
const LINK: Schema = &[("Label", S), ("Url", S)];

/// Go's `%v` of a float64 (strconv's shortest `%g`: an exponent below -4 or from 6 up
/// is written `1e+06`).
fn go_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// An integer field's text (a whole float is an integer here).
fn int_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            (f as i64).to_string()
        } else {
            go_float(f)
        }
    }
}

fn scalar(v: &Value, p: P) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => int_text(n),
        _ => match p {
            I => "0".into(),
            B => "false".into(),
            S | M => String::new(),
        },
    }
}

/// `flatmap.Flatten(obj, filter, true)` of a struct (nothing for a nil one).
fn flat(v: Option<&Value>, schema: Schema, filter: &[&str]) -> Flat {
    let mut out = Flat::new();
    let Some(Value::Object(m)) = v else {
        return out;
    };
    for &(name, p) in schema {
        let x = m.get(name).unwrap_or(&Value::Null);
        match p {
            M => {
                for (k, value) in x.as_object().into_iter().flatten() {
                    out.insert(format!("{name}[{k}]"), scalar(value, S));
                }
            }
            _ => {
                out.insert(name.to_string(), scalar(x, p));
            }
        }
    }
    for f in filter {
        out.remove(*f);
    }
    out
}

/// `flatmap.Flatten(v, nil, false)` of free-form data under `prefix`: maps as
/// `prefix[key]` (just `key` at the top), lists as `prefix[i]`, null as `nil`, numbers as
/// the float64 JSON decodes them to.
fn flatten_any(prefix: &str, v: &Value, out: &mut Flat) {
    match v {
        Value::Null => {
            out.insert(prefix.to_string(), "nil".into());
        }
        Value::Bool(b) => {
            out.insert(prefix.to_string(), b.to_string());
        }
        Value::Number(n) => {
            out.insert(prefix.to_string(), go_float(n.as_f64().unwrap_or(0.0)));
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten_any(&format!("{prefix}[{i}]"), x, out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}[{k}]")
                };
                flatten_any(&key, x, out);
            }
        }
    }
}

fn flat_any(v: Option<&Value>) -> Flat {
    let mut out = Flat::new();
    if let Some(v @ Value::Object(_)) = v {
        flatten_any("", v, &mut out);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Reading the JSON

/// A field of a struct, `None` when absent or null (a nil pointer, slice or map).
fn at<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    v?.get(key).filter(|x| !x.is_null())
}

fn list<'a>(v: Option<&'a Value>, key: &str) -> Vec<&'a Value> {
    at(v, key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|x| !x.is_null()).collect())
        .unwrap_or_default()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|x| match x {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

fn text<'a>(v: Option<&'a Value>, key: &str) -> &'a str {
    at(v, key).and_then(Value::as_str).unwrap_or("")
}

/// Keys whose values are user data (maps of any keys) rather than structs.
const DATA: &[&str] = &[
    "Config",
    "Env",
    "Meta",
    "CanaryMeta",
    "TaggedAddresses",
    "GetterOptions",
    "GetterHeaders",
    "Policy",
    "Target",
    "Header",
    "Args",
];

/// A value as Go would compare it: numbers as float64; in structs, a field at its zero
/// value is the same as an absent one, and an empty list or map the same as none. In user
/// data (`data`) every key counts.
fn normal(v: &Value, data: bool) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(a) if a.is_empty() => Value::Null,
        Value::Array(a) => Value::Array(a.iter().map(|x| normal(x, data)).collect()),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let n = normal(x, data || DATA.contains(&k.as_str()));
                if data || !is_zero(&n) {
                    out.insert(k.clone(), n);
                }
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Object(out)
            }
        }
        other => other.clone(),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// `reflect.DeepEqual` of two struct pointers.
fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => normal(x, false) == normal(y, false),
        _ => false,
    }
}

/// `reflect.DeepEqual` of two free-form maps.
fn same_data(a: Option<&Value>, b: Option<&Value>) -> bool {
    let n = |v: Option<&Value>| v.map_or(Value::Null, |x| normal(x, true));
    n(a) == n(b)
}

/// What `hashstructure.Hash` tells apart: the whole value.
fn hash_key(v: &Value) -> String {
    normal(v, false).to_string()
}

// ---------------------------------------------------------------------------------------
// Generic diffs

/// `primitiveObjectDiff`: the primitive fields; no object when none changed.
fn primitive_diff(
    old: Option<&Value>,
    new: Option<&Value>,
    schema: Schema,
    filter: &[&str],
    name: &str,
    contextual: bool,
) -> Option<Object> {
    let fields = field_diffs(
        &flat(old, schema, filter),
        &flat(new, schema, filter),
        contextual,
    );
    let kind = kind_from_fields(&fields)?;
    Some(Object {
        kind,
        name: name.into(),
        fields,
        objects: Vec::new(),
    })
}

/// `primitiveObjectSetDiff`: objects matched by `key` (their `DiffID`, or their hash).
fn primitive_set_diff(
    old: &[&Value],
    new: &[&Value],
    schema: Schema,
    name: &str,
    key: fn(&Value) -> String,
    contextual: bool,
) -> Objects {
    let set = |items: &[&Value]| -> BTreeMap<String, Value> {
        items.iter().map(|x| (key(x), (*x).clone())).collect()
    };
    let (old_set, new_set) = (set(old), set(new));
    let mut out = Vec::new();
    for (k, o) in &old_set {
        out.extend(primitive_diff(
            Some(o),
            new_set.get(k),
            schema,
            &[],
            name,
            contextual,
        ));
    }
    for (k, n) in &new_set {
        if !old_set.contains_key(k) {
            out.extend(primitive_diff(None, Some(n), schema, &[], name, contextual));
        }
    }
    sorted(out)
}

fn constraint_key(c: &Value) -> String {
    let c = Some(c);
    format!(
        "{} {} {}",
        text(c, "LTarget"),
        text(c, "Operand"),
        text(c, "RTarget")
    )
}

fn affinity_key(a: &Value) -> String {
    let w = at(Some(a), "Weight").map_or("0".into(), |w| scalar(w, I));
    format!("{} {w}", constraint_key(a))
}

fn artifact_key(a: &Value) -> String {
    match text(Some(a), "RelativeDest") {
        "" => hash_key(a),
        dest => dest.to_string(),
    }
}

fn constraints(old: Option<&Value>, new: Option<&Value>, contextual: bool) -> Objects {
    let mut out = primitive_set_diff(
        &list(old, "Constraints"),
        &list(new, "Constraints"),
        CONSTRAINT,
        "Constraint",
        constraint_key,
        contextual,
    );
    out.extend(primitive_set_diff(
        &list(old, "Affinities"),
        &list(new, "Affinities"),
        AFFINITY,
        "Affinity",
        affinity_key,
        contextual,
    ));
    out
}

/// `stringSetDiff`: the members added, removed and (contextual) kept, each a field named
/// after the set.
fn string_set_diff(
    old: Option<&Value>,
    new: Option<&Value>,
    name: &str,
    contextual: bool,
) -> Option<Object> {
    let o: BTreeSet<String> = strings(old).into_iter().collect();
    let n: BTreeSet<String> = strings(new).into_iter().collect();
    if o == n && !contextual {
        return None;
    }
    let mut fields = Vec::new();
    let (mut added, mut removed) = (false, false);
    for k in &o {
        if !n.contains(k) {
            fields.extend(field_diff(k, "", name, contextual));
            removed = true;
        } else if contextual {
            fields.extend(field_diff(k, k, name, contextual));
        }
    }
    for k in &n {
        if !o.contains(k) {
            fields.extend(field_diff("", k, name, contextual));
            added = true;
        }
    }
    sort_fields(&mut fields);
    let kind = match (added, removed) {
        (true, true) => Kind::Edited,
        (true, false) => Kind::Added,
        (false, true) => Kind::Deleted,
        (false, false) if fields.is_empty() => return None,
        (false, false) => Kind::None,
    };
    Some(Object {
        kind,
        name: name.into(),
        fields,
        objects: Vec::new(),
    })
}

/// The usual shape of a block's diff (`Resources.Diff`, `serviceDiff`, `vaultDiff`...):
/// nothing when equal, else Added, Deleted or Edited by which sides are there, with the
/// fields of `flatten` and the nested objects of `objects` (given both sides, `None` for
/// a missing one).
fn block_diff(
    name: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    fields_contextual: bool,
    flatten: &dyn Fn(Option<&Value>) -> Flat,
    objects: &dyn Fn(Option<&Value>, Option<&Value>) -> Objects,
) -> Option<Object> {
    if same(old, new) {
        return None;
    }
    Some(Object {
        kind: Kind::of(old, new),
        name: name.into(),
        fields: field_diffs(&flatten(old), &flatten(new), fields_contextual),
        objects: objects(old, new),
    })
}

fn no_objects(_: Option<&Value>, _: Option<&Value>) -> Objects {
    Vec::new()
}

/// Blocks matched by a name: each old one against its new one (or none), then the new
/// ones, sorted.
fn by_key(
    old: &[&Value],
    new: &[&Value],
    key: &dyn Fn(&Value) -> String,
    diff: &BlockDiff<'_>,
) -> Objects {
    let map = |items: &[&Value]| -> BTreeMap<String, Value> {
        items.iter().map(|x| (key(x), (*x).clone())).collect()
    };
    let (old_map, new_map) = (map(old), map(new));
    let mut out = Vec::new();
    for (k, o) in &old_map {
        out.extend(diff(Some(o), new_map.get(k)));
    }
    for (k, n) in &new_map {
        if !old_map.contains_key(k) {
            out.extend(diff(None, Some(n)));
        }
    }
    sorted(out)
}

/// Blocks matched by position (actions, volume mounts), sorted.
fn by_index(old: &[&Value], new: &[&Value], diff: &BlockDiff<'_>) -> Objects {
    let mut out = Vec::new();
    for i in 0..old.len().max(new.len()) {
        out.extend(diff(old.get(i).copied(), new.get(i).copied()));
    }
    sorted(out)
}

fn named(v: &Value) -> String {
    text(Some(v), "Name").to_string()
}

// ---------------------------------------------------------------------------------------
// Blocks

fn periodic_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    block_diff(
        "Periodic",
        old,
        new,
        c,
        &|v| flat(v, PERIODIC, &[]),
        &|o, n| {
            string_set_diff(at(o, "Specs"), at(n, "Specs"), "Specs", c)
                .filter(|d| d.kind != Kind::None)
                .into_iter()
                .collect()
        },
    )
}

fn parameterized_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    block_diff(
        "ParameterizedJob",
        old,
        new,
        c,
        &|v| flat(v, PARAMETERIZED, &[]),
        &|o, n| {
            let mut out = Vec::new();
            for key in ["MetaOptional", "MetaRequired"] {
                out.extend(string_set_diff(at(o, key), at(n, key), key, c));
            }
            out
        },
    )
}

fn multiregion_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    if same(old, new) {
        return None;
    }
    // A missing old block is canonicalized first: a strategy with zero values.
    let zero = json!({});
    let old_strategy = match old {
        None => Some(&zero),
        Some(_) => at(old, "Strategy"),
    };
    let mut objects: Objects = primitive_diff(
        old_strategy,
        at(new, "Strategy"),
        MULTIREGION_STRATEGY,
        &[],
        "Strategy",
        c,
    )
    .into_iter()
    .collect();
    objects.extend(by_key(
        &list(old, "Regions"),
        &list(new, "Regions"),
        &named,
        &|o, n| {
            if same(o, n) {
                return None;
            }
            let fields = field_diffs(&flat(o, REGION, &[]), &flat(n, REGION, &[]), c);
            let kind = kind_from_fields(&fields)?;
            let objects =
                string_set_diff(at(o, "Datacenters"), at(n, "Datacenters"), "Datacenters", c)
                    .filter(|d| d.kind != Kind::None)
                    .into_iter()
                    .collect();
            Some(Object {
                kind,
                name: "Region".into(),
                fields,
                objects,
            })
        },
    ));
    Some(Object {
        kind: Kind::of(old, new),
        name: "Multiregion".into(),
        fields: Vec::new(),
        objects: sorted(objects),
    })
}

fn ui_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    block_diff("UI", old, new, c, &|v| flat(v, UI, &[]), &|o, n| {
        let (old_links, new_links) = (list(o, "Links"), list(n, "Links"));
        let mut out = Vec::new();
        // A missing link is compared as an empty one.
        let empty = json!({});
        for i in 0..old_links.len().max(new_links.len()) {
            let (ol, nl) = (old_links.get(i).copied(), new_links.get(i).copied());
            let (of, nf) = (
                flat(Some(ol.unwrap_or(&empty)), LINK, &[]),
                flat(Some(nl.unwrap_or(&empty)), LINK, &[]),
            );
            if of == nf {
                continue;
            }
            let kind = match (ol, nl) {
                (Some(_), Some(_)) => Kind::Edited,
                (Some(_), None) => Kind::Deleted,
                _ => Kind::Added,
            };
            out.push(Object {
                kind,
                name: "Link".into(),
                fields: field_diffs(&of, &nf, c),
                objects: Vec::new(),
            });
        }
        sorted(out)
    })
    .map(|mut d| {
        sort_fields(&mut d.fields);
        d
    })
}

fn primitive_block(
    old: Option<&Value>,
    new: Option<&Value>,
    key: &str,
    schema: Schema,
    filter: &[&str],
    c: bool,
) -> Option<Object> {
    primitive_diff(at(old, key), at(new, key), schema, filter, key, c)
}

fn disconnect_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    // `Flatten(strategy, nil, false)`: the pointers too, `nil` when unset.
    let flatten = |v: Option<&Value>| {
        let mut out = Flat::new();
        if let Some(v) = v {
            out.insert(
                "LostAfter".into(),
                scalar(v.get("LostAfter").unwrap_or(&Value::Null), I),
            );
            for key in ["StopOnClientAfter", "Replace"] {
                let value = match v.get(key) {
                    None | Some(Value::Null) => "nil".to_string(),
                    Some(x) => scalar(x, S),
                };
                out.insert(key.into(), value);
            }
            out.insert("Reconcile".into(), text(Some(v), "Reconcile").to_string());
        }
        out
    };
    block_diff("Disconnect", old, new, c, &flatten, &no_objects)
}

fn dns_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    let flatten = |v: Option<&Value>| {
        let mut out = Flat::new();
        for key in ["Servers", "Searches", "Options"] {
            let items = strings(at(v, key));
            if !items.is_empty() {
                out.insert(key.into(), items.join(","));
            }
        }
        out
    };
    block_diff("DNS", old, new, c, &flatten, &no_objects)
}

fn cni_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    let (o, n) = (at(old, "Args"), at(new, "Args"));
    if same_data(o, n) {
        return None;
    }
    // `primitiveObjectDiff(d.Args, other.Args, ...)`: the map's keys as field names.
    let args = |v: Option<&Value>| -> Flat {
        v.and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, x)| (k.clone(), scalar(x, S)))
            .collect()
    };
    let fields = field_diffs(&args(o), &args(n), c);
    Some(Object {
        kind: kind_from_fields(&fields)?,
        name: "CNIConfig".into(),
        fields,
        objects: Vec::new(),
    })
}

fn port_diffs(old: &[&Value], new: &[&Value], dynamic: bool, c: bool) -> Objects {
    let (filter, name): (&[&str], &str) = if dynamic {
        (&["Value", "IgnoreCollision"], "Dynamic Port")
    } else {
        (&[], "Static Port")
    };
    let label = |p: &Value| text(Some(p), "Label").to_string();
    by_key(old, new, &label, &|o, n| {
        primitive_diff(o, n, PORT, filter, name, c)
    })
}

fn network_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    block_diff(
        "Network",
        old,
        new,
        c,
        &|v| flat(v, NETWORK, &[]),
        &|o, n| {
            let mut out = port_diffs(
                &list(o, "ReservedPorts"),
                &list(n, "ReservedPorts"),
                false,
                c,
            );
            out.extend(port_diffs(
                &list(o, "DynamicPorts"),
                &list(n, "DynamicPorts"),
                true,
                c,
            ));
            out.extend(dns_diff(at(o, "DNS"), at(n, "DNS"), c));
            out.extend(cni_diff(at(o, "CNI"), at(n, "CNI"), c));
            out
        },
    )
}

/// `networkResourceDiffs`: networks are a set by their whole content, so a changed one is
/// a deleted one and an added one.
fn network_diffs(old: Option<&Value>, new: Option<&Value>, c: bool) -> Objects {
    let set = |v: Option<&Value>| -> BTreeMap<String, Value> {
        list(v, "Networks")
            .into_iter()
            .map(|x| (hash_key(x), x.clone()))
            .collect()
    };
    let (old_set, new_set) = (set(old), set(new));
    let mut out = Vec::new();
    for (k, o) in &old_set {
        if !new_set.contains_key(k) {
            out.extend(network_diff(Some(o), None, c));
        }
    }
    for (k, n) in &new_set {
        if !old_set.contains_key(k) {
            out.extend(network_diff(None, Some(n), c));
        }
    }
    sorted(out)
}

fn resources_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    block_diff(
        "Resources",
        old,
        new,
        c,
        &|v| flat(v, RESOURCES, &[]),
        &|o, n| {
            let mut out = network_diffs(o, n, c);
            out.extend(by_key(
                &list(o, "Devices"),
                &list(n, "Devices"),
                &named,
                &|a, b| block_diff("Device", a, b, c, &|v| flat(v, DEVICE, &[]), &no_objects),
            ));
            let (on, nn) = (at(o, "NUMA"), at(n, "NUMA"));
            let numa_same = match (on, nn) {
                (Some(x), Some(y)) => {
                    text(Some(x), "Affinity") == text(Some(y), "Affinity")
                        && strings(at(Some(x), "Devices")) == strings(at(Some(y), "Devices"))
                }
                (x, y) => x.is_none() && y.is_none(),
            };
            if !numa_same {
                out.push(Object {
                    kind: Kind::of(on, nn),
                    name: "NUMA".into(),
                    fields: field_diffs(&flat(on, NUMA, &[]), &flat(nn, NUMA, &[]), c),
                    objects: Vec::new(),
                });
            }
            out
        },
    )
}

fn identity_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    block_diff(
        "Identity",
        old,
        new,
        c,
        &|v| flat(v, IDENTITY, &[]),
        &|o, n| {
            string_set_diff(at(o, "Audience"), at(n, "Audience"), "Audience", c)
                .into_iter()
                .collect()
        },
    )
}

fn weights_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    let flatten = |v: Option<&Value>| {
        let mut out = Flat::new();
        for key in ["Passing", "Warning"] {
            let n = at(v, key).and_then(Value::as_i64).unwrap_or(0);
            if n > 0 {
                out.insert(key.into(), n.to_string());
            }
        }
        out
    };
    block_diff("Weights", old, new, c, &flatten, &no_objects)
}

fn check_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    block_diff("Check", old, new, c, &|v| flat(v, CHECK, &[]), &|o, n| {
        let mut out = Vec::new();
        let (oh, nh) = (at(o, "Header"), at(n, "Header"));
        if !same_data(oh, nh) {
            let len = |v: Option<&Value>| v.and_then(Value::as_object).map_or(0, Map::len);
            let kind = if len(oh) == 0 {
                Kind::Added
            } else if len(nh) == 0 {
                Kind::Deleted
            } else {
                Kind::Edited
            };
            out.push(Object {
                kind,
                name: "Header".into(),
                fields: field_diffs(&flat_any(oh), &flat_any(nh), c),
                objects: Vec::new(),
            });
        }
        out.extend(block_diff(
            "CheckRestart",
            at(o, "CheckRestart"),
            at(n, "CheckRestart"),
            c,
            &|v| flat(v, CHECK_RESTART, &[]),
            &no_objects,
        ));
        out
    })
}

fn service_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    block_diff(
        "Service",
        old,
        new,
        c,
        &|v| flat(v, SERVICE, &[]),
        &|o, n| {
            let mut out = Vec::new();
            for key in ["CanaryTags", "Tags"] {
                out.extend(string_set_diff(at(o, key), at(n, key), key, c));
            }
            out.extend(by_key(
                &list(o, "Checks"),
                &list(n, "Checks"),
                &named,
                &|a, b| check_diff(a, b, c),
            ));
            out.extend(identity_diff(at(o, "Identity"), at(n, "Identity"), c));
            out.extend(weights_diff(at(o, "Weights"), at(n, "Weights"), c));
            out
        },
    )
}

/// `serviceDiffs`: services have no ID, so each old one is matched to the unmatched new
/// one that scores best on position (1), port label (2) and name (3), above 2.
fn service_diffs(old: Option<&Value>, new: Option<&Value>, c: bool) -> Objects {
    let (old, new) = (list(old, "Services"), list(new, "Services"));
    if old.len() == 1 && new.len() == 1 {
        return service_diff(Some(old[0]), Some(new[0]), c)
            .into_iter()
            .collect();
    }
    let mut matched = vec![false; new.len()];
    let mut out = Vec::new();
    for (oi, o) in old.iter().enumerate() {
        let mut best = (0, None);
        for (i, s) in new.iter().enumerate() {
            if matched[i] {
                continue;
            }
            let mut score = 0;
            if i == oi {
                score += 1;
            }
            if text(Some(o), "PortLabel") == text(Some(s), "PortLabel") {
                score += 2;
            }
            if text(Some(o), "Name") == text(Some(s), "Name") {
                score += 3;
            }
            if score > 2 && score > best.0 {
                best = (score, Some(i));
            }
        }
        match best.1 {
            None => out.extend(service_diff(Some(o), None, c)),
            Some(i) => {
                matched[i] = true;
                out.extend(service_diff(Some(o), Some(new[i]), c));
            }
        }
    }
    for (i, n) in new.iter().enumerate() {
        if !matched[i] {
            out.extend(service_diff(None, Some(n), c));
        }
    }
    sorted(out)
}

fn template_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    let flatten = |v: Option<&Value>| {
        let mut out = flat(v, TEMPLATE, &[]);
        // The pointer fields, when set.
        for key in ["Uid", "Gid"] {
            if let Some(x) = at(v, key) {
                out.insert(key.into(), scalar(x, I));
            }
        }
        out
    };
    block_diff("Template", old, new, c, &flatten, &|o, n| {
        let mut out = Vec::new();
        // `waitConfigDiff` (named "Template" in Nomad too): `Flatten(wait, nil, false)`.
        let wait = |v: Option<&Value>| -> Flat {
            match v {
                None => Flat::new(),
                Some(w) => ["Min", "Max"]
                    .into_iter()
                    .map(|k| {
                        let value = at(Some(w), k).map_or("nil".into(), |x| scalar(x, I));
                        (k.to_string(), value)
                    })
                    .collect(),
            }
        };
        out.extend(block_diff(
            "Template",
            at(o, "Wait"),
            at(n, "Wait"),
            c,
            &wait,
            &no_objects,
        ));
        out.extend(block_diff(
            "ChangeScript",
            at(o, "ChangeScript"),
            at(n, "ChangeScript"),
            c,
            &|v| flat(v, CHANGE_SCRIPT, &[]),
            &|a, b| {
                string_set_diff(at(a, "Args"), at(b, "Args"), "Args", c)
                    .into_iter()
                    .collect()
            },
        ));
        out
    })
}

/// `templateDiffs`: templates matched by destination.
fn template_diffs(old: Option<&Value>, new: Option<&Value>, c: bool) -> Objects {
    let (old, new) = (list(old, "Templates"), list(new, "Templates"));
    if old.len() == 1 && new.len() == 1 {
        return template_diff(Some(old[0]), Some(new[0]), c)
            .into_iter()
            .collect();
    }
    let mut matched = vec![false; new.len()];
    let mut out = Vec::new();
    for o in &old {
        let dest = text(Some(o), "DestPath");
        let found = (0..new.len()).find(|&i| !matched[i] && text(Some(new[i]), "DestPath") == dest);
        match found {
            None => out.extend(template_diff(Some(o), None, c)),
            Some(i) => {
                matched[i] = true;
                out.extend(template_diff(Some(o), Some(new[i]), c));
            }
        }
    }
    for (i, n) in new.iter().enumerate() {
        if !matched[i] {
            out.extend(template_diff(None, Some(n), c));
        }
    }
    sorted(out)
}

fn secret_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    // `Flatten(secret, nil, false)`.
    let flatten = |v: Option<&Value>| {
        let mut out = Flat::new();
        let Some(v) = v else { return out };
        for key in ["Name", "Provider", "Path"] {
            out.insert(key.into(), text(Some(v), key).to_string());
        }
        for key in ["Config", "Env"] {
            if let Some(m @ Value::Object(_)) = at(Some(v), key) {
                flatten_any(key, m, &mut out);
            }
        }
        out
    };
    block_diff("Secret", old, new, c, &flatten, &no_objects)
}

fn volume_diffs(old: Option<&Value>, new: Option<&Value>, c: bool) -> Objects {
    let (o, n) = (at(old, "Volumes"), at(new, "Volumes"));
    if same(o, n) {
        return Vec::new();
    }
    let entries = |v: Option<&Value>| -> BTreeMap<String, Value> {
        v.and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(_, x)| !x.is_null())
            .map(|(k, x)| (k.clone(), x.clone()))
            .collect()
    };
    let (oe, ne) = (entries(o), entries(n));
    let diff = |a: Option<&Value>, b: Option<&Value>| {
        block_diff("Volume", a, b, c, &|v| flat(v, VOLUME, &[]), &|x, y| {
            let (mx, my) = (at(x, "MountOptions"), at(y, "MountOptions"));
            block_diff(
                "MountOptions",
                mx,
                my,
                c,
                &|v| flat(v, MOUNT_OPTIONS, &[]),
                &|p, q| {
                    string_set_diff(at(p, "MountFlags"), at(q, "MountFlags"), "MountFlags", c)
                        .into_iter()
                        .collect()
                },
            )
            .into_iter()
            .collect()
        })
    };
    let mut out = Vec::new();
    for (k, x) in &oe {
        out.extend(diff(Some(x), ne.get(k)));
    }
    for (k, x) in &ne {
        if !oe.contains_key(k) {
            out.extend(diff(None, Some(x)));
        }
    }
    // Nomad leaves these in map order; sorted here so answers repeat.
    sorted(out)
}

/// `scalingDiff`: its fields and its policy's are never contextual.
fn scaling_diff(old: Option<&Value>, new: Option<&Value>) -> Option<Object> {
    const FILTER: &[&str] = &["Target[Job]", "Target[Group]", "Target[Namespace]"];
    block_diff(
        "Scaling",
        old,
        new,
        false,
        &|v| flat(v, SCALING, FILTER),
        &|o, n| {
            let (op, np) = (at(o, "Policy"), at(n, "Policy"));
            if same_data(op, np) {
                return Vec::new();
            }
            let len = |v: Option<&Value>| v.and_then(Value::as_object).map_or(0, Map::len);
            let kind = if len(op) == 0 {
                Kind::Added
            } else if len(np) == 0 {
                Kind::Deleted
            } else {
                Kind::Edited
            };
            vec![Object {
                kind,
                name: "Policy".into(),
                fields: field_diffs(&flat_any(op), &flat_any(np), false),
                objects: Vec::new(),
            }]
        },
    )
    .map(|mut d| {
        d.objects = sorted(d.objects);
        d
    })
}

fn config_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> Option<Object> {
    let (o, n) = (at(old, "Config"), at(new, "Config"));
    if same_data(o, n) {
        return None;
    }
    let len = |v: Option<&Value>| v.and_then(Value::as_object).map_or(0, Map::len);
    let kind = if len(o) == 0 {
        Kind::Added
    } else if len(n) == 0 {
        Kind::Deleted
    } else {
        Kind::Edited
    };
    Some(Object {
        kind,
        name: "Config".into(),
        fields: field_diffs(&flat_any(o), &flat_any(n), c),
        objects: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------------
// Tasks, groups, jobs

struct TaskDiff {
    kind: Kind,
    name: String,
    fields: Vec<Field>,
    objects: Objects,
}

struct GroupDiff {
    kind: Kind,
    name: String,
    fields: Vec<Field>,
    objects: Objects,
    tasks: Vec<TaskDiff>,
}

/// Added or Deleted by the sides present, Edited when both are and differ at all
/// (`reflect.DeepEqual`), else None.
fn member_kind(old: Option<&Value>, new: Option<&Value>) -> Kind {
    match (old, new) {
        (Some(_), Some(_)) if same(old, new) => Kind::None,
        (None, None) => Kind::None,
        _ => Kind::of(old, new),
    }
}

/// `Task.Diff`.
fn task_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> TaskDiff {
    let mut objects = constraints(old, new, c);
    objects.extend(config_diff(old, new, c));
    objects.extend(resources_diff(
        at(old, "Resources"),
        at(new, "Resources"),
        c,
    ));
    objects.extend(primitive_block(old, new, "LogConfig", LOG_CONFIG, &[], c));
    objects.extend(primitive_block(
        old,
        new,
        "DispatchPayload",
        DISPATCH_PAYLOAD,
        &[],
        c,
    ));
    objects.extend(primitive_set_diff(
        &list(old, "Artifacts"),
        &list(new, "Artifacts"),
        ARTIFACT,
        "Artifact",
        artifact_key,
        c,
    ));
    objects.extend(service_diffs(old, new, c));
    objects.extend(block_diff(
        "Vault",
        at(old, "Vault"),
        at(new, "Vault"),
        c,
        &|v| flat(v, VAULT, &[]),
        &no_objects,
    ));
    objects.extend(by_key(
        &list(old, "Secrets"),
        &list(new, "Secrets"),
        &named,
        &|a, b| secret_diff(a, b, c),
    ));
    objects.extend(primitive_block(old, new, "Consul", CONSUL, &[], c));
    objects.extend(template_diffs(old, new, c));
    objects.extend(identity_diff(at(old, "Identity"), at(new, "Identity"), c));
    objects.extend(by_key(
        &list(old, "Identities"),
        &list(new, "Identities"),
        &named,
        &|a, b| identity_diff(a, b, c),
    ));
    objects.extend(by_index(
        &list(old, "Actions"),
        &list(new, "Actions"),
        &|a, b| {
            block_diff("Action", a, b, c, &|v| flat(v, ACTION, &[]), &|x, y| {
                string_set_diff(at(x, "Args"), at(y, "Args"), "Args", c)
                    .into_iter()
                    .collect()
            })
        },
    ));
    objects.extend(by_index(
        &list(old, "VolumeMounts"),
        &list(new, "VolumeMounts"),
        &|a, b| {
            block_diff(
                "VolumeMount",
                a,
                b,
                c,
                &|v| flat(v, VOLUME_MOUNT, &[]),
                &no_objects,
            )
        },
    ));
    let (os, ns) = (at(old, "Schedule"), at(new, "Schedule"));
    if !same(os, ns) {
        objects.extend(primitive_diff(
            at(os, "Cron"),
            at(ns, "Cron"),
            CRON,
            &[],
            "Schedule",
            c,
        ));
    }
    TaskDiff {
        kind: member_kind(old, new),
        name: text(new.or(old), "Name").to_string(),
        fields: field_diffs(&flat(old, TASK, &[]), &flat(new, TASK, &[]), false),
        objects,
    }
}

/// `taskGroupDiffs` and `taskDiffs`: members matched by name, sorted by name.
fn by_name<'a>(
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    key: &str,
) -> Vec<(Option<&'a Value>, Option<&'a Value>)> {
    let map = |v: Option<&'a Value>| -> BTreeMap<String, &'a Value> {
        list(v, key).into_iter().map(|x| (named(x), x)).collect()
    };
    let (o, n) = (map(old), map(new));
    let names: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    names
        .into_iter()
        .map(|k| (o.get(k).copied(), n.get(k).copied()))
        .collect()
}

/// `TaskGroup.Diff`.
fn group_diff(old: Option<&Value>, new: Option<&Value>, c: bool) -> GroupDiff {
    let mut old_flat = flat(old, GROUP, &[]);
    let mut new_flat = flat(new, GROUP, &[]);
    if old.is_some() && new.is_some() {
        // A pointer, so compared by hand: "" when unset.
        let delay = |v| at(v, "ShutdownDelay").map_or(String::new(), |x| scalar(x, I));
        old_flat.insert("ShutdownDelay".into(), delay(old));
        new_flat.insert("ShutdownDelay".into(), delay(new));
    }
    let mut objects = constraints(old, new, c);
    objects.extend(primitive_block(old, new, "RestartPolicy", RESTART, &[], c));
    objects.extend(primitive_block(old, new, "Migrate", MIGRATE, &[], c));
    objects.extend(primitive_block(
        old,
        new,
        "ReschedulePolicy",
        RESCHEDULE,
        &[],
        c,
    ));
    objects.extend(primitive_block(
        old,
        new,
        "EphemeralDisk",
        EPHEMERAL_DISK,
        &[],
        c,
    ));
    objects.extend(primitive_block(old, new, "Consul", CONSUL, &[], c));
    objects.extend(primitive_block(old, new, "Update", UPDATE, &["Stagger"], c));
    objects.extend(disconnect_diff(
        at(old, "Disconnect"),
        at(new, "Disconnect"),
        c,
    ));
    objects.extend(network_diffs(old, new, c));
    objects.extend(scaling_diff(at(old, "Scaling"), at(new, "Scaling")));
    objects.extend(service_diffs(old, new, c));
    objects.extend(volume_diffs(old, new, c));
    let tasks = by_name(old, new, "Tasks")
        .into_iter()
        .map(|(o, n)| task_diff(o, n, c))
        .collect();
    GroupDiff {
        kind: member_kind(old, new),
        name: text(new.or(old), "Name").to_string(),
        fields: field_diffs(&old_flat, &new_flat, false),
        objects,
        tasks,
    }
}

fn list_json<T>(items: &[T], f: impl Fn(&T) -> Value) -> Value {
    if items.is_empty() {
        Value::Null
    } else {
        Value::Array(items.iter().map(f).collect())
    }
}

fn field_json(f: &Field) -> Value {
    json!({"Type": f.kind.text(), "Name": f.name, "Old": f.old, "New": f.new, "Annotations": null})
}

fn object_json(o: &Object) -> Value {
    json!({
        "Type": o.kind.text(),
        "Name": o.name,
        "Fields": list_json(&o.fields, field_json),
        "Objects": list_json(&o.objects, object_json)
    })
}

fn task_json(t: &TaskDiff) -> Value {
    json!({
        "Type": t.kind.text(),
        "Name": t.name,
        "Fields": list_json(&t.fields, field_json),
        "Objects": list_json(&t.objects, object_json),
        "Annotations": null
    })
}

fn group_json(g: &GroupDiff) -> Value {
    json!({
        "Type": g.kind.text(),
        "Name": g.name,
        "Fields": list_json(&g.fields, field_json),
        "Objects": list_json(&g.objects, object_json),
        "Tasks": list_json(&g.tasks, task_json),
        "Updates": null
    })
}

/// `old.Diff(new, contextual)` for two versions of a job (`old` is `None` when the job is
/// new), as Nomad's `structs.JobDiff` JSON.
pub fn job_diff(old: Option<&Value>, new: &Value, contextual: bool) -> Value {
    let c = contextual;
    let new = Some(new);
    let fields = field_diffs(&flat(old, JOB, &[]), &flat(new, JOB, &[]), false);
    let mut objects: Objects = string_set_diff(
        at(old, "Datacenters"),
        at(new, "Datacenters"),
        "Datacenters",
        c,
    )
    .filter(|d| d.kind != Kind::None)
    .into_iter()
    .collect();
    objects.extend(constraints(old, new, c));
    let groups: Vec<GroupDiff> = by_name(old, new, "TaskGroups")
        .into_iter()
        .map(|(o, n)| group_diff(o, n, c))
        .collect();
    objects.extend(periodic_diff(at(old, "Periodic"), at(new, "Periodic"), c));
    objects.extend(parameterized_diff(
        at(old, "ParameterizedJob"),
        at(new, "ParameterizedJob"),
        c,
    ));
    objects.extend(multiregion_diff(
        at(old, "Multiregion"),
        at(new, "Multiregion"),
        c,
    ));
    objects.extend(ui_diff(at(old, "UI"), at(new, "UI"), c));
    // The job's own type comes from what is listed (its filtered fields change on every
    // version).
    let kind = if old.is_none() {
        Kind::Added
    } else if fields.iter().any(|f| f.kind != Kind::None)
        || objects.iter().any(|o| o.kind != Kind::None)
        || groups.iter().any(|g| g.kind != Kind::None)
    {
        Kind::Edited
    } else {
        Kind::None
    };
    json!({
        "Type": kind.text(),
        "ID": text(new, "ID"),
        "Fields": list_json(&fields, field_json),
        "Objects": list_json(&objects, object_json),
        "TaskGroups": list_json(&groups, group_json)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_does() {
        for (f, text) in [
            (8080.0, "8080"),
            (1.5, "1.5"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
        ] {
            assert_eq!(go_float(f), text, "{f}");
        }
    }

    #[test]
    fn free_form_maps_flatten_as_flatmap_does() {
        let config = json!({"image": "nginx", "args": ["-p", 80], "auth": {"username": "u"},
                            "mounts": [{"type": "bind"}], "empty": [], "none": null});
        let flat = flat_any(Some(&config));
        let expected: Flat = [
            ("image", "nginx"),
            ("args[0]", "-p"),
            ("args[1]", "80"),
            ("auth[username]", "u"),
            ("mounts[0][type]", "bind"),
            ("none", "nil"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(flat, expected);
    }

    #[test]
    fn a_changed_constraint_is_deleted_and_added() {
        let old = json!({"Constraints": [{"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="}]});
        let new = json!({"Constraints": [{"LTarget": "${attr.kernel.name}", "RTarget": "darwin", "Operand": "="}]});
        let diffs = constraints(Some(&old), Some(&new), false);
        let kinds: Vec<Kind> = diffs.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, [Kind::Added, Kind::Deleted]);
        // Every field of each: the added one's Added, the deleted one's Deleted.
        assert!(
            diffs[0].fields.iter().all(|f| f.kind == Kind::Added),
            "{diffs:?}"
        );
        assert!(
            diffs[1].fields.iter().all(|f| f.kind == Kind::Deleted),
            "{diffs:?}"
        );
        assert_eq!(diffs[0].fields.len(), 3, "{diffs:?}");
    }
}
