//! The files the CLI reads: the census import CSV and the census return file.

use haicheng::{census_csv, return_file};

/// `haicheng census import FILE`: the CSV reader, bytes as they are on disk.
pub fn census_csv(data: &[u8]) {
    if let Ok(parsed) = census_csv::parse(data) {
        let _ = parsed.rejected_row_count();
    }
}

/// `haicheng census submit --file FILE`: the JSON return file.
pub fn return_file(data: &[u8]) {
    let _ = return_file::parse(&crate::text(data));
}
