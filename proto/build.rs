//! Generates the Rust code of every `.proto` under `haicheng/` with a pure-Rust protobuf
//! compiler (protox): no system `protoc` is needed. Messages implement `prost::Name`
//! (their full name is the CloudEvents `ce_type`), and both gRPC clients and servers are
//! generated. The encoded file descriptor set is written to
//! `$OUT_DIR/haicheng_descriptor.bin` for gRPC reflection.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

/// Folder (relative to the crate root) that holds the contracts.
const PROTO_ROOT: &str = "haicheng";

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

    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
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
