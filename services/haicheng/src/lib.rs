//! The file formats of the `haicheng` command-line client, as a library: the census import
//! CSV ([`census_csv`]) and the return file of `census submit --file` ([`return_file`]), with
//! the enumeration names they read ([`enums`]). The binary (`main.rs`) uses them from here,
//! and so do the fuzz targets (`fuzz-targets`), which feed them arbitrary bytes.

pub mod census_csv;
pub mod enums;
pub mod return_file;
