//! The benchmark in quick mode against the test stack, with the debug binaries `make test`
//! builds: every row must produce a figure. No timing is asserted (the machine is shared).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_produces_a_figure_in_quick_mode() {
    let options = haicheng_bench::Options {
        bin_dir: testkit::process::debug_dir(),
        quick: true,
        only: Vec::new(),
        service_env: Vec::new(),
        scale: None,
    };
    let rows = haicheng_bench::run(&options).await.expect("the quick run");
    let table = haicheng_bench::table::print(&rows);
    println!("{table}");
    // The rows of issue 13 that exist today and the support eligibility row (issue 21), each
    // with a figure on both sides, and the overload row (issue 23).
    assert_eq!(rows.len(), 17, "{table}");
    for row in &rows {
        assert!(row.has_figure(), "no figure for {}\n{table}", row.path);
        assert!(
            row.note.is_empty() || !row.note.contains("failed"),
            "{}: {}",
            row.path,
            row.note
        );
    }
}

/// `--scale` in quick mode: every row that grows with the firms, at two tiny sizes, each with
/// a figure, the services' peak memory and their databases' size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scale_table_has_every_row_at_every_size() {
    use haicheng_bench::scale;
    let options = haicheng_bench::Options {
        bin_dir: testkit::process::debug_dir(),
        quick: true,
        only: Vec::new(),
        service_env: Vec::new(),
        scale: None,
    };
    let rows: Vec<String> = scale::ROWS.iter().map(|r| r.to_string()).collect();
    let lines = scale::run(&options, &rows, scale::QUICK_SIZES).await;
    let table = scale::print(&lines);
    println!("{table}");
    assert_eq!(
        lines.len(),
        rows.len() * scale::QUICK_SIZES.len(),
        "{table}"
    );
    for line in &lines {
        assert!(
            line.measured.has_figure(),
            "no figure for {} at {}\n{table}",
            line.row,
            line.firms
        );
        assert!(
            !line.databases.is_empty(),
            "no database size for {}\n{table}",
            line.row
        );
        assert!(
            line.row == "notice" || !line.peaks.is_empty(),
            "no peak memory for {}\n{table}",
            line.row
        );
    }
}
