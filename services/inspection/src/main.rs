use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("inspection: not yet served");
    ExitCode::FAILURE
}
