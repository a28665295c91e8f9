//! Generates the Rust code of every `.proto` under `haicheng/` with a pure-Rust protobuf
//! compiler (protox): no system `protoc` is needed. Messages implement `prost::Name`
//! (their full name is the CloudEvents `ce_type`), and both gRPC clients and servers are
//! generated. The encoded file descriptor set is written to
//! `$OUT_DIR/haicheng_descriptor.bin` for gRPC reflection.
//!
//! Every message of ours also derives `serde::Serialize` with the field names of the protobuf
//! JSON mapping (the descriptor's `json_name`, lowerCamelCase); the fields whose Rust type
//! does not say what they hold get a serializer of `src/json.rs`: an enumeration (an `i32`
//! in prost) by its value name, a `Timestamp` as RFC 3339. (A field of another well-known
//! type would not compile until it has one there.) Every enumeration gets an impl of
//! `ProtoEnum` (`$OUT_DIR/proto_enums.rs`).

use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorSet,
    field_descriptor_proto::{Label, Type},
};

/// Folder (relative to the crate root) that holds the contracts.
const PROTO_ROOT: &str = "haicheng";
/// Package prefix of our contracts (the well-known types are not ours).
const OUR_PACKAGES: &str = "haicheng.";
/// Messages whose `Serialize` is written by hand in `src/json.rs`.
const HAND_SERIALIZED: [&str; 1] = [".haicheng.common.v1.Period"];
/// The well-known type with a serializer of its own.
const TIMESTAMP: &str = ".google.protobuf.Timestamp";

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    println!("cargo:rerun-if-changed=build.rs");

    let mut files = Vec::new();
    collect_protos(Path::new(PROTO_ROOT), &mut files)?;
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    // Same as `protox::compile(files, ["."])`, kept as a `Compiler` so that it can also
    // hand back the encoded descriptor set (prost-build only writes one when it runs protoc).
    let mut compiler = protox::Compiler::new(["."])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(&files)?;
    let fds = compiler.file_descriptor_set();

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("haicheng_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    fs::write(out_dir.join("proto_enums.rs"), proto_enum_impls(&fds))?;

    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    serde_attributes(&fds, &mut config)?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}

/// Every `.proto` file below `dir`, recursively, as paths relative to the crate root.
fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

/// One message of ours: its full protobuf name (`.haicheng.census.v1.Enterprise`) and its
/// descriptor.
struct Message<'a> {
    name: String,
    descriptor: &'a DescriptorProto,
}

/// Every message of our packages, nested ones included; map entries (which prost turns into
/// `HashMap`s, not structs) left out.
fn our_messages(fds: &FileDescriptorSet) -> Vec<Message<'_>> {
    fn walk<'a>(scope: &str, list: &'a [DescriptorProto], out: &mut Vec<Message<'a>>) {
        for descriptor in list {
            if descriptor.options.as_ref().is_some_and(|o| o.map_entry()) {
                continue;
            }
            let name = format!("{scope}.{}", descriptor.name());
            walk(&name, &descriptor.nested_type, out);
            out.push(Message { name, descriptor });
        }
    }
    let mut out = Vec::new();
    for file in fds
        .file
        .iter()
        .filter(|f| f.package().starts_with(OUR_PACKAGES))
    {
        walk(
            &format!(".{}", file.package()),
            &file.message_type,
            &mut out,
        );
    }
    out
}

/// `#[derive(serde::Serialize)]` on every message of ours, the JSON name and, where the Rust
/// type needs one, a serializer on every field.
fn serde_attributes(
    fds: &FileDescriptorSet,
    config: &mut tonic_prost_build::Config,
) -> Result<(), Box<dyn Error>> {
    let messages = our_messages(fds);
    for message in &messages {
        if HAND_SERIALIZED.contains(&message.name.as_str()) {
            continue;
        }
        config.message_attribute(&message.name, "#[derive(serde::Serialize)]");
        for field in &message.descriptor.field {
            let mut serde = format!("rename = \"{}\"", json_name(field));
            if let Some(with) = serializer(field, message)? {
                write!(serde, ", serialize_with = \"{with}\"")?;
            }
            // A member of a oneof is a variant of the oneof's enum, whose path has the
            // oneof's name in it.
            let path = match real_oneof(field, message) {
                Some(oneof) => format!("{}.{oneof}.{}", message.name, field.name()),
                None => format!("{}.{}", message.name, field.name()),
            };
            config.field_attribute(path, format!("#[serde({serde})]"));
        }
        oneof_attributes(message, config);
    }
    Ok(())
}

/// The oneof `field` belongs to, unless it is a proto3 `optional` (a synthetic oneof that
/// prost turns into an `Option` field).
fn real_oneof<'a>(field: &FieldDescriptorProto, message: &Message<'a>) -> Option<&'a str> {
    if field.proto3_optional() {
        return None;
    }
    let index = usize::try_from(field.oneof_index?).ok()?;
    message.descriptor.oneof_decl.get(index).map(|o| o.name())
}

/// A oneof is an enum beside the message, serialized as its one set member under the oneof's
/// name (`{"amount": {"fixedFen": 100}}`). The protobuf JSON mapping would flatten it into the
/// message; prost's attribute paths match by prefix, so a `flatten` on the field would also
/// land on every variant.
fn oneof_attributes(message: &Message<'_>, config: &mut tonic_prost_build::Config) {
    let real: std::collections::BTreeSet<&str> = message
        .descriptor
        .field
        .iter()
        .filter_map(|field| real_oneof(field, message))
        .collect();
    for oneof in real {
        let path = format!("{}.{oneof}", message.name);
        config.enum_attribute(&path, "#[derive(serde::Serialize)]");
    }
}

/// The field's name in the protobuf JSON mapping.
fn json_name(field: &FieldDescriptorProto) -> String {
    match &field.json_name {
        Some(name) if !name.is_empty() => name.clone(),
        _ => {
            let camel = field.name().to_upper_camel_case();
            let mut chars = camel.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_lowercase().chain(chars).collect()
            })
        }
    }
}

/// The path of the function of `crate::json` that serializes the field, when serde's own
/// serializer of the Rust type would not do: enumerations (plain, optional, repeated, as map
/// values) and timestamps.
fn serializer(
    field: &FieldDescriptorProto,
    message: &Message<'_>,
) -> Result<Option<String>, Box<dyn Error>> {
    let repeated = field.label() == Label::Repeated;
    let optional = field.proto3_optional();
    Ok(match field.r#type() {
        Type::Enum => {
            let rust = rust_path(field.type_name());
            Some(match (repeated, optional) {
                (true, _) => format!("crate::json::enumerations::<{rust}, _>"),
                (false, true) => format!("crate::json::optional_enumeration::<{rust}, _>"),
                (false, false) => format!("crate::json::enumeration::<{rust}, _>"),
            })
        }
        Type::Message if field.type_name() == TIMESTAMP => {
            if repeated {
                return Err(
                    format!("{}.{}: repeated timestamps", message.name, field.name()).into(),
                );
            }
            Some("crate::json::timestamp".to_string())
        }
        Type::Message if repeated => map_value_serializer(field, message)?,
        _ => None,
    })
}

/// A map field (a repeated `…Entry` message): enumeration values need the map serializer.
fn map_value_serializer(
    field: &FieldDescriptorProto,
    message: &Message<'_>,
) -> Result<Option<String>, Box<dyn Error>> {
    let entry = message
        .descriptor
        .nested_type
        .iter()
        .filter(|n| n.options.as_ref().is_some_and(|o| o.map_entry()))
        .find(|n| field.type_name() == format!("{}.{}", message.name, n.name()));
    let Some(entry) = entry else {
        return Ok(None);
    };
    let value = entry
        .field
        .iter()
        .find(|f| f.number() == 2)
        .ok_or("a map entry without a value")?;
    Ok(match value.r#type() {
        Type::Enum => Some(format!(
            "crate::json::enumeration_map::<{}, _>",
            rust_path(value.type_name())
        )),
        Type::Message if value.type_name() == TIMESTAMP => {
            return Err(format!("{}.{}: a map of timestamps", message.name, field.name()).into());
        }
        _ => None,
    })
}

/// The Rust path of a type of ours: `.haicheng.common.v1.Park` → `crate::common::v1::Park`
/// (nested types live in the snake_case module of their parent, as prost lays them out).
fn rust_path(proto: &str) -> String {
    let parts: Vec<&str> = proto.trim_start_matches('.').split('.').collect();
    // Our packages are `haicheng.<area>.v1`; after them come the type and its parents.
    let (package, types) = parts.split_at(3.min(parts.len()));
    let mut path = String::from("crate");
    for part in &package[1..] {
        write!(path, "::{part}").expect("writing to a String");
    }
    for (i, part) in types.iter().enumerate() {
        if i + 1 == types.len() {
            write!(path, "::{}", part.to_upper_camel_case())
        } else {
            write!(path, "::{}", part.to_snake_case())
        }
        .expect("writing to a String");
    }
    path
}

/// `impl crate::ProtoEnum` for every enumeration of ours: its value-name prefix (the enum's
/// name in SCREAMING_SNAKE_CASE and `_`, as prost strips it) and its names.
fn proto_enum_impls(fds: &FileDescriptorSet) -> String {
    let mut enums = Vec::new();
    for file in fds
        .file
        .iter()
        .filter(|f| f.package().starts_with(OUR_PACKAGES))
    {
        let package = format!(".{}", file.package());
        enums.extend(file.enum_type.iter().map(|e| (package.clone(), e)));
    }
    for message in our_messages(fds) {
        enums.extend(
            message
                .descriptor
                .enum_type
                .iter()
                .map(|e| (message.name.clone(), e)),
        );
    }
    let mut out = String::from("// Generated by build.rs: one impl per enumeration.\n");
    for (scope, descriptor) in enums {
        let prefix = format!("{}_", descriptor.name().to_shouty_snake_case());
        let rust = rust_path(&format!("{scope}.{}", descriptor.name()));
        writeln!(
            out,
            "impl crate::ProtoEnum for {rust} {{\n    \
             const PREFIX: &'static str = \"{prefix}\";\n    \
             fn from_value(value: i32) -> Option<Self> {{ Self::try_from(value).ok() }}\n    \
             fn proto_name(self) -> &'static str {{ self.as_str_name() }}\n    \
             fn from_proto_name(name: &str) -> Option<Self> {{ Self::from_str_name(name) }}\n    \
             fn value(self) -> i32 {{ self as i32 }}\n}}"
        )
        .expect("writing to a String");
    }
    out
}
