//! The benchmark in quick mode against the test stack, with the debug binaries `make test`
//! builds: every row must produce a figure. No timing is asserted (the machine is shared).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_produces_a_figure_in_quick_mode() {
    let options = haicheng_bench::Options {
        bin_dir: testkit::process::debug_dir(),
        quick: true,
        only: Vec::new(),
        service_env: Vec::new(),
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
