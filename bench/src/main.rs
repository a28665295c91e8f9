//! `haicheng-bench [--quick] [--bin-dir DIR]`: runs every benchmark row and prints the table
//! (Markdown). `make bench` builds the release binaries and runs it on a throwaway stack.
//! `--scale` runs the rows that grow with the number of firms at 10,000, 100,000 and
//! 1,000,000 firms instead (`make bench-scale`).

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
    /// How each cost grows with the number of firms: import, relay, rerank-db, notice, land and
    /// fair at each of `--sizes` (with `--only`, those of them).
    #[arg(long)]
    scale: bool,
    /// The sizes of `--scale` (comma-separated numbers of firms).
    #[arg(long, value_delimiter = ',', requires = "scale")]
    sizes: Vec<usize>,
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
        scale: None,
    };
    let started = chrono::Utc::now();
    if args.scale {
        return scale(&options, args.sizes, started).await;
    }
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

/// `--scale`: the scaling table.
async fn scale(
    options: &haicheng_bench::Options,
    sizes: Vec<usize>,
    started: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    use haicheng_bench::scale;
    let rows: Vec<String> = scale::ROWS
        .iter()
        .filter(|row| options.only.is_empty() || options.only.iter().any(|o| o == *row))
        .map(|row| row.to_string())
        .collect();
    anyhow::ensure!(
        !rows.is_empty(),
        "--scale runs {}; --only names none of them",
        scale::ROWS.join(", ")
    );
    let sizes = match (sizes.is_empty(), options.quick) {
        (false, _) => sizes,
        (true, true) => scale::QUICK_SIZES.to_vec(),
        (true, false) => scale::SIZES.to_vec(),
    };
    anyhow::ensure!(
        sizes.iter().all(|&n| n > 0),
        "--sizes takes numbers of firms above 0"
    );
    let lines = scale::run(options, &rows, &sizes).await;
    println!(
        "{} cores, {} MiB memory, {}, --scale\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        total_memory_mib().unwrap_or(0),
        started.format("%Y-%m-%d %H:%M UTC"),
    );
    print!("{}", scale::print(&lines));
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
