//! JSON Schemas for tools: inputs from schemars (descriptions and examples on every
//! field), outputs from the utoipa schemas the REST API documents, rewritten from OpenAPI
//! component references into a self-contained JSON Schema with `$defs`.

use rmcp::model::JsonObject;
use serde_json::{Map, Value};

/// The input schema of `I`, with every sub-schema inlined (simplest for clients).
pub fn input<I: schemars::JsonSchema>() -> JsonObject {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let schema = generator.into_root_schema_for::<I>();
    let mut object = match serde_json::to_value(schema) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    object.remove("$schema");
    object.remove("title");
    object
        .entry("type")
        .or_insert_with(|| Value::String("object".into()));
    object
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    object
}

/// The output schema of `O`: its utoipa schema with the referenced component schemas
/// under `$defs`. The root always says `type: object` (MCP requires it).
pub fn output<O: utoipa::ToSchema>() -> JsonObject {
    let mut components = Vec::new();
    O::schemas(&mut components);
    let mut root = serde_json::to_value(O::schema()).unwrap_or(Value::Null);
    rewrite_refs(&mut root);
    let mut object = match root {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    object
        .entry("type")
        .or_insert_with(|| Value::String("object".into()));
    if !components.is_empty() {
        let mut defs = Map::new();
        for (name, schema) in components {
            let mut schema = serde_json::to_value(schema).unwrap_or(Value::Null);
            rewrite_refs(&mut schema);
            defs.insert(name, schema);
        }
        object.insert("$defs".into(), Value::Object(defs));
    }
    object
}

/// The output schema of a list tool: `Page<T>`'s, with `T` itself under `$defs` too
/// (utoipa's generic `Page<T>` refers to `T` but lists only what `T` refers to).
pub fn page_output<T: utoipa::ToSchema>() -> JsonObject {
    let mut object = output::<crate::service::Page<T>>();
    let mut item = serde_json::to_value(T::schema()).unwrap_or(Value::Null);
    rewrite_refs(&mut item);
    let defs = object
        .entry("$defs")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(defs) = defs {
        defs.insert(T::name().into_owned(), item);
    }
    object
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some(name) = reference.strip_prefix("#/components/schemas/")
            {
                *reference = format!("#/$defs/{name}");
            }
            map.values_mut().for_each(rewrite_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}
