//! `haicheng-bench [--quick] [--bin-dir DIR]`: runs every benchmark row and prints the table
//! (Markdown). `make bench` builds the release binaries and runs it on a throwaway stack.

use std::path::PathBuf;

use clap::Parser;

/// Every hot path as a ratio to its limit, measured in the same run.
#[derive(Parser)]
struct Args {
    /// Tiny counts: checks the harness, the figures mean nothing.
    #[arg(long)]
    quick: bool,
    /// Where the census and classification binaries are (default: beside this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Only these rows (comma-separated): health, submit, file, import, relay, consumer, rerank-db, notice, overload, land, fair, support, rerank.
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(haicheng_bench::ROWS))]
    only: Vec<String>,
    /// An extra variable for both services (repeatable), to try a setting: `--env OUTBOX_BATCH_SIZE=1000`.
    #[arg(long = "env", value_parser = key_value)]
    service_env: Vec<(String, String)>,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin_dir = match args.bin_dir {
        Some(dir) => dir,
        None => std::env::current_exe()?
            .parent()
            .map(PathBuf::from)
            .ok_or_else(|| anyhow::anyhow!("the bench binary has no folder"))?,
    };
    let options = haicheng_bench::Options {
        bin_dir,
        quick: args.quick,
        only: args.only,
        service_env: args.service_env,
    };
    let started = chrono::Utc::now();
    let rows = haicheng_bench::run(&options).await?;
    println!(
        "{} cores, {} MiB memory, {}{}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        total_memory_mib().unwrap_or(0),
        started.format("%Y-%m-%d %H:%M UTC"),
        if args.quick { ", quick mode" } else { "" }
    );
    print!("{}", haicheng_bench::table::print(&rows));
    Ok(())
}

fn total_memory_mib() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024)
}
