//! JSON Schemas for tools: inputs from schemars (a description on every field), outputs from the utoipa schemas the REST API documents, rewritten from OpenAPI
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
    // The input struct's own doc comment: the tool's description already says it.
    object.remove("description");
    compact(&mut object);
    object
        .entry("type")
        .or_insert_with(|| Value::String("object".into()));
    object
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    object
}

/// Drops what schemars writes that tells a client nothing, since every tool's input
/// schema is part of what `tools/list` costs an agent: `default: null` and `writeOnly` on
/// optional fields, `null` among an optional field's types (leaving the field out is
/// how to not give it; the tools still read an explicit `null` as absent), Rust's integer
/// `format`s (`uint64`), which JSON Schema does not define (`minimum` stays), and the line
/// breaks of wrapped doc comments.
fn compact(schema: &mut Map<String, Value>) {
    // Doc comments wrap at 100 columns; the line breaks mean nothing to a reader.
    if let Some(Value::String(text)) = schema.get_mut("description")
        && text.contains('\n')
    {
        *text = text.replace('\n', " ");
    }
    if schema.get("default") == Some(&Value::Null) {
        schema.remove("default");
    }
    schema.remove("writeOnly");
    if let Some(Value::Array(types)) = schema.get("type") {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if kept.len() == 1 && types.len() == 2 {
            schema.insert("type".into(), kept[0].clone());
        }
    }
    if schema
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| f.starts_with("int") || f.starts_with("uint"))
    {
        schema.remove("format");
    }
    for value in schema.values_mut() {
        match value {
            Value::Object(inner) => compact(inner),
            Value::Array(items) => items.iter_mut().for_each(|item| {
                if let Value::Object(inner) = item {
                    compact(inner)
                }
            }),
            _ => {}
        }
    }
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
